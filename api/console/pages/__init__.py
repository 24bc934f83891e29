"""The console's pages: one controller module per page (see CONSOLE_CONTRACT.md)."""
