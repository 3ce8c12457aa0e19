"""The `pausebutton` command line."""
