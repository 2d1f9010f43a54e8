pytest_plugins = ["tests.fixtures.couch", "tests.fixtures.gateway", "tests.fixtures.pipeline"]
