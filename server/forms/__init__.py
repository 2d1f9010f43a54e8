"""``/api/forms``: the JSON Schema of every form type and version, for device apps to render and pre-validate."""
