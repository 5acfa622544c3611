"""The hall display: view model, announcer, voice, Kivy screen and window LED bridge (issue #18)."""
