"""Command-line option groups shared by the scripts: each option is defined once here."""
