"""The test suite (a package, so that test modules can import shared helpers as tests.*)."""
