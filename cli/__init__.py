"""The `onewindow` command: the single top of the project, built from each package's command module."""
