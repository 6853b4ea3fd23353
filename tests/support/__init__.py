"""Real services started by the tests on free ports: Mosquitto, VictoriaMetrics, snmpsim."""
