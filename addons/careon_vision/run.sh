#!/usr/bin/with-contenv bashio
# shellcheck shell=bash
# ==============================================================================
# CareOn Vision add-on entry point.
# The broker comes from the Supervisor's MQTT service (services: mqtt:need) and is
# handed to careon_vision through CAREON_MQTT_* variables; the options are read by
# careon_vision itself from /data/options.json. Never `set -x` here: the
# variables hold the broker password.
# ==============================================================================
set -e

if ! bashio::services.available "mqtt"; then
    bashio::exit.nok "No MQTT broker: install and start the Mosquitto broker add-on."
fi

CAREON_MQTT_HOST="$(bashio::services mqtt 'host')"
CAREON_MQTT_PORT="$(bashio::services mqtt 'port')"
CAREON_MQTT_USERNAME="$(bashio::services mqtt 'username')"
CAREON_MQTT_PASSWORD="$(bashio::services mqtt 'password')"
export CAREON_MQTT_HOST CAREON_MQTT_PORT CAREON_MQTT_USERNAME CAREON_MQTT_PASSWORD
bashio::log.info "MQTT broker: ${CAREON_MQTT_HOST}:${CAREON_MQTT_PORT}"

# Without a timezone option, use Home Assistant's (the Supervisor sets TZ).
if ! bashio::config.has_value 'timezone' && [[ -n "${TZ:-}" ]]; then
    export CAREON_TIMEZONE="${TZ}"
fi

bashio::log.info "Starting CareOn Vision..."
exec python3 -m careon_vision --addon
