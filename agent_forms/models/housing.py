"""DTSEN housing indicators: shared by the household form (as declared) and the field visit (as observed).

The categories follow the family variables of the DTSEN/Regsosek questionnaire (house ownership, floor, wall
and roof material, drinking water, toilet, lighting and PLN capacity, cooking fuel, assets), simplified to
what a pendamping can see in one visit.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agent_forms.models.base import Choice
from agent_forms.problems import Problem


class Ownership(Choice):
    """Status kepemilikan rumah"""

    OWN = "own", "Milik sendiri"
    RENT = "rent", "Kontrak/sewa"
    RENT_FREE = "rent_free", "Bebas sewa (menumpang)"
    OFFICIAL = "official", "Dinas"
    OTHER = "other", "Lainnya"


class Floor(Choice):
    """Jenis lantai terluas"""

    MARBLE_GRANITE = "marble_granite", "Marmer/granit"
    CERAMIC = "ceramic", "Keramik"
    PARQUET_VINYL = "parquet_vinyl", "Parket/vinil/karpet"
    TILE_TERRAZZO = "tile_terrazzo", "Ubin/tegel/teraso"
    WOOD = "wood", "Kayu/papan"
    CEMENT_BRICK = "cement_brick", "Semen/bata merah"
    BAMBOO = "bamboo", "Bambu"
    EARTH = "earth", "Tanah"
    OTHER = "other", "Lainnya"


class Wall(Choice):
    """Jenis dinding terluas"""

    MASONRY = "masonry", "Tembok"
    PLASTERED_BAMBOO = "plastered_bamboo", "Plesteran anyaman bambu/kawat"
    WOOD = "wood", "Kayu/papan/gipsum/GRC/calciboard"
    WOVEN_BAMBOO = "woven_bamboo", "Anyaman bambu"
    BAMBOO_LOG = "bamboo_log", "Batang kayu/bambu"
    OTHER = "other", "Lainnya"


class Roof(Choice):
    """Jenis atap terluas"""

    CONCRETE = "concrete", "Beton"
    CERAMIC_TILE = "ceramic_tile", "Genteng keramik"
    CLAY_TILE = "clay_tile", "Genteng tanah liat"
    METAL_TILE = "metal_tile", "Genteng metal"
    ZINC = "zinc", "Seng"
    ASBESTOS = "asbestos", "Asbes"
    SHINGLE = "shingle", "Sirap"
    BAMBOO = "bamboo", "Bambu"
    THATCH = "thatch", "Jerami/ijuk/daun/rumbia"
    OTHER = "other", "Lainnya"


class DrinkingWater(Choice):
    """Sumber air minum utama"""

    BOTTLED = "bottled", "Air kemasan bermerk"
    REFILL = "refill", "Air isi ulang"
    PIPED = "piped", "Leding"
    BOREHOLE = "borehole", "Sumur bor/pompa"
    PROTECTED_WELL = "protected_well", "Sumur terlindung"
    UNPROTECTED_WELL = "unprotected_well", "Sumur tak terlindung"
    PROTECTED_SPRING = "protected_spring", "Mata air terlindung"
    UNPROTECTED_SPRING = "unprotected_spring", "Mata air tak terlindung"
    SURFACE = "surface", "Air permukaan (sungai/danau/waduk/irigasi)"
    RAIN = "rain", "Air hujan"
    OTHER = "other", "Lainnya"


class ToiletFacility(Choice):
    """Fasilitas buang air besar"""

    PRIVATE = "private", "Ada, digunakan hanya anggota keluarga sendiri"
    SHARED = "shared", "Ada, digunakan bersama keluarga tertentu"
    COMMUNAL = "communal", "Ada, di MCK komunal"
    PUBLIC = "public", "Ada, di MCK umum"
    NONE = "none", "Tidak ada fasilitas"


class ToiletDisposal(Choice):
    """Tempat pembuangan akhir tinja"""

    SEPTIC_TANK = "septic_tank", "Tangki septik"
    SEWER = "sewer", "IPAL"
    PIT = "pit", "Lubang tanah"
    OPEN = "open", "Kolam/sawah/sungai/danau/laut, pantai/tanah lapang/kebun"
    OTHER = "other", "Lainnya"


class Lighting(Choice):
    """Sumber penerangan utama"""

    PLN_METERED = "pln_metered", "Listrik PLN dengan meteran"
    PLN_UNMETERED = "pln_unmetered", "Listrik PLN tanpa meteran (menyalur)"
    NON_PLN = "non_pln", "Listrik non-PLN (genset/tenaga surya)"
    NONE = "none", "Bukan listrik"


class CookingFuel(Choice):
    """Bahan bakar utama untuk memasak"""

    ELECTRICITY = "electricity", "Listrik"
    LPG_LARGE = "lpg_large", "Elpiji 5,5 kg/bluegaz/12 kg"
    LPG_3KG = "lpg_3kg", "Elpiji 3 kg"
    CITY_GAS = "city_gas", "Gas kota/meteran PGN"
    BIOGAS = "biogas", "Biogas"
    KEROSENE = "kerosene", "Minyak tanah"
    BRIQUETTE = "briquette", "Briket"
    CHARCOAL = "charcoal", "Arang"
    FIREWOOD = "firewood", "Kayu bakar"
    OTHER = "other", "Lainnya"
    NONE = "none", "Tidak memasak di rumah"


class Asset(Choice):
    """Aset yang dimiliki keluarga"""

    LPG_5KG = "lpg_5kg", "Tabung gas 5,5 kg atau lebih"
    REFRIGERATOR = "refrigerator", "Lemari es/kulkas"
    AIR_CONDITIONER = "air_conditioner", "AC"
    WATER_HEATER = "water_heater", "Pemanas air (water heater)"
    LANDLINE = "landline", "Telepon rumah (PSTN)"
    TELEVISION = "television", "Televisi layar datar"
    GOLD = "gold", "Emas/perhiasan (minimal 10 gram)"
    COMPUTER = "computer", "Komputer/laptop/tablet"
    SMARTPHONE = "smartphone", "Telepon pintar (smartphone)"
    BICYCLE = "bicycle", "Sepeda"
    MOTORCYCLE = "motorcycle", "Sepeda motor"
    CAR = "car", "Mobil"
    BOAT = "boat", "Perahu"
    MOTOR_BOAT = "motor_boat", "Kapal/perahu motor"
    LAND = "land", "Lahan (selain yang ditempati)"
    OTHER_HOUSE = "other_house", "Rumah di tempat lain"


#: PLN household connection capacities (VA).
ElectricityVa = Literal[450, 900, 1300, 2200, 3500, 4400, 5500, 6600, 7700, 10600, 11000, 13200, 16500, 23000]


class Livestock(BaseModel):
    """Ternak yang dimiliki"""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Ternak")

    cattle: int = Field(default=0, ge=0, le=10_000, title="Sapi")
    buffalo: int = Field(default=0, ge=0, le=10_000, title="Kerbau")
    horse: int = Field(default=0, ge=0, le=10_000, title="Kuda")
    pig: int = Field(default=0, ge=0, le=10_000, title="Babi")
    goat_sheep: int = Field(default=0, ge=0, le=10_000, title="Kambing/domba")


class HousingIndicators(BaseModel):
    """Kondisi rumah (indikator DTSEN)"""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Kondisi rumah (indikator DTSEN)")

    ownership: Ownership = Field(title="Status kepemilikan rumah")
    floor_area_m2: float | None = Field(
        default=None, gt=0, le=10_000, title="Luas lantai (m²)", description="Perkiraan luas lantai bangunan"
    )
    floor: Floor = Field(title="Jenis lantai terluas")
    wall: Wall = Field(title="Jenis dinding terluas")
    roof: Roof = Field(title="Jenis atap terluas")
    drinking_water: DrinkingWater = Field(title="Sumber air minum utama")
    toilet: ToiletFacility = Field(title="Fasilitas buang air besar")
    toilet_disposal: ToiletDisposal | None = Field(
        default=None, title="Pembuangan akhir tinja", description="Diisi bila ada fasilitas buang air besar"
    )
    lighting: Lighting = Field(title="Sumber penerangan utama")
    electricity_va: ElectricityVa | None = Field(
        default=None,
        title="Daya listrik PLN (VA)",
        description="Wajib bila penerangan listrik PLN dengan meteran; lihat meteran atau rekening listrik",
    )
    cooking_fuel: CookingFuel = Field(title="Bahan bakar utama memasak")
    assets: list[Asset] = Field(
        default_factory=list, max_length=len(Asset), title="Aset", description="Pilih semua yang dimiliki"
    )
    livestock: Livestock | None = Field(default=None, title="Ternak")

    def rule_errors(self, field: str) -> list[Problem]:
        problems: list[Problem] = []
        if self.lighting is Lighting.PLN_METERED and self.electricity_va is None:
            problems.append(
                Problem(
                    f"{field}.electricity_va",
                    "housing.electricity_va_required",
                    "Daya listrik wajib diisi bila penerangan listrik PLN dengan meteran",
                )
            )
        if self.lighting in (Lighting.NON_PLN, Lighting.NONE) and self.electricity_va is not None:
            problems.append(
                Problem(
                    f"{field}.electricity_va",
                    "housing.electricity_va_without_pln",
                    "Daya listrik PLN tidak boleh diisi bila penerangan bukan listrik PLN",
                )
            )
        if self.toilet is ToiletFacility.NONE and self.toilet_disposal is not None:
            problems.append(
                Problem(
                    f"{field}.toilet_disposal",
                    "housing.toilet_disposal_without_toilet",
                    "Pembuangan akhir tinja tidak diisi bila tidak ada fasilitas buang air besar",
                )
            )
        if len(set(self.assets)) != len(self.assets):
            problems.append(Problem(f"{field}.assets", "list.duplicate", "Setiap aset cukup dipilih sekali"))
        return problems
