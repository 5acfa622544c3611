"""The site's own MQTT broker: a supervised local Mosquitto (`onewindow broker`)."""
