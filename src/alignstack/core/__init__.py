"""Types shared by everything. Imports no ML library."""
