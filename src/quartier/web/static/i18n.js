// Texts in German and English, and numbers, dates and units in the reader's locale.
import { OPERATIONS_TEXTS } from "./texts-operations.js";

const TEXTS = {
  en: {
    "skip": "Skip to content", "nav.label": "Main", "nav.map": "Map", "nav.alerts": "Alerts",
    "nav.flood": "Flood", "nav.explore": "Data explorer", "language": "Language", "apiKey": "API key", "loading": "Loading…",
    "account.login": "Log in", "account.logout": "Log out", "account.as": "Logged in as {user} ({role})",
    "account.label": "Account", "login.title": "Log in", "login.name": "User name", "login.password": "Password",
    "login.submit": "Log in", "login.busy": "Logging in…", "login.failed": "Login failed: {message}",
    "login.back": "Back to the dashboard without logging in", "login.intro": "Log in with the account an administrator of your town made for you. Without logging in you see the public data.",
    "explore.title": "Data explorer",
    "explore.intro": "Choose a Thing, its Datastreams and a time range: you get the SensorThings query that gives the same data, and a CSV download.",
    "explore.thing": "Thing", "explore.datastreams": "Datastreams", "explore.range": "Time range",
    "explore.h1": "last hour", "explore.d1": "last 24 hours", "explore.d7": "last 7 days", "explore.d30": "last 30 days",
    "explore.query": "The same data from the SensorThings API", "explore.json": "Open as JSON",
    "explore.csv": "Download CSV", "explore.preview": "Newest values", "explore.empty": "No values in this range.",
    "explore.pick": "Choose a Thing and at least one of its Datastreams.",
    "explore.time": "Time", "explore.datastream": "Datastream", "explore.value": "Value",
    "live.on": "Live", "live.off": "Reconnecting…",
    "map.title": "Overview map", "map.region": "Map of the town's Things",
    "map.search": "Search Things", "map.layers": "Use cases", "map.count": "{n} Things shown",
    "map.more": "… and {n} more: narrow the search", "map.things": "Things",
    "layer.lighting": "Lighting", "layer.water": "Water", "layer.fleet": "Fleet",
    "layer.environment": "Environment", "layer.parking": "Parking", "layer.other": "Other",
    "status.ok": "OK", "status.stale": "No recent data", "status.nodata": "No data",
    "status.minor": "Alert (minor)", "status.moderate": "Alert (moderate)",
    "status.severe": "Alert (severe)", "status.extreme": "Alert (extreme)",
    "status.legend": "Status", "cluster": "{n} Things, worst status: {status}",
    "thing.back": "Back to the map", "thing.datastreams": "Datastreams",
    "thing.name": "Datastream", "thing.latest": "Latest value", "thing.time": "Time",
    "thing.show": "Chart", "thing.chart": "Time series", "thing.alerts": "Open alerts",
    "thing.noalerts": "No open alerts.", "thing.history": "Location history",
    "thing.nohistory": "No locations recorded.", "thing.position": "Position",
    "thing.notfound": "There is no Thing {id}.", "thing.kind": "Kind",
    "chart.range": "Time range", "chart.h1": "1 hour", "chart.h6": "6 hours", "chart.d1": "1 day",
    "chart.d7": "7 days", "chart.d30": "30 days", "chart.y1": "1 year",
    "chart.summary": "{name}: {n} values from {from} to {to}, lowest {min}, highest {max}",
    "chart.empty": "No values in this range.", "chart.text": "Text values cannot be charted.",
    "chart.aggregated": "Mean, lowest and highest value per {interval} ({n} values in all).",
    "chart.raw": "Every value ({n}).", "chart.zoom": "Drag across the chart to zoom in, double-click to zoom out.",
    "chart.mean": "mean", "chart.min": "lowest", "chart.max": "highest",
    "alerts.title": "Alerts", "alerts.open": "Open and acknowledged", "alerts.recent": "Recent, all",
    "alerts.show": "Show", "alerts.none": "No alerts.", "alerts.severity": "Severity",
    "alerts.alert": "Alert", "alerts.thing": "Thing", "alerts.opened": "Opened", "alerts.status": "Status",
    "alerts.actions": "Actions", "alerts.ack": "Acknowledge", "alerts.resolve": "Resolve",
    "alerts.by": "Your name", "alerts.comment": "Comment", "alerts.cancel": "Cancel",
    "alerts.ackTitle": "Acknowledge alert", "alerts.resolveTitle": "Resolve alert",
    "alerts.new": "New alert: {message}", "alerts.changed": "Alert changed: {message}",
    "alerts.ackBy": "acknowledged by {by}", "alerts.failed": "That did not work: {message}",
    "state.open": "open", "state.acknowledged": "acknowledged", "state.resolved": "resolved",
    "sev.minor": "minor", "sev.moderate": "moderate", "sev.severe": "severe", "sev.extreme": "extreme",
    "flood.title": "Flood: water gauges", "flood.level": "Level", "flood.stage": "Reporting level",
    "flood.stage0": "below reporting level 1", "flood.stageN": "reporting level {n}",
    "flood.trend": "Trend (last hour)", "flood.rising": "rising", "flood.falling": "falling",
    "flood.steady": "steady", "flood.none": "No water gauges.", "flood.bands": "Reporting levels",
    "nav.lighting": "Lighting", "nav.fleet": "Fleet",
    "lighting.title": "Street lighting", "lighting.map": "Map of the street lamps by status",
    "lighting.legend": "Lamp status", "lighting.summary": "{n} lamps on {c} circuits. Select a lamp on the map to open it.",
    "lighting.none": "No street lamps.", "lighting.circuits": "Circuits by cabinet", "lighting.circuitsCaption": "Lamps of each circuit by status, with the cabinet's mains voltage and load",
    "lighting.cabinet": "Cabinet", "lighting.circuit": "Circuit", "lighting.circuitState": "Circuit is",
    "lighting.lamps": "Lamps", "lighting.voltage": "Mains voltage", "lighting.load": "Load",
    "lighting.noCabinet": "no cabinet", "lighting.attention": "Lamps needing attention",
    "lighting.allGood": "Every lamp reports as expected.", "lighting.lamp": "Lamp", "lighting.status": "Status",
    "lighting.street": "Street", "lighting.lastReport": "Last report",
    "lamp.on": "on", "lamp.dimmed": "dimmed", "lamp.off": "off", "lamp.failed": "failed", "lamp.unknown": "no report",
    "energy.title": "Energy per circuit",
    "energy.note": "Energy in kWh: the difference of each lamp's meter reading over the period, added up per circuit.",
    "energy.by": "Add up", "energy.per.day": "per day", "energy.per.month": "per month",
    "energy.period.day": "Day", "energy.period.month": "Month", "energy.from": "From", "energy.to": "To",
    "energy.show": "Show", "energy.csv": "Download CSV", "energy.all": "All circuits", "energy.sum": "Total",
    "energy.table": "Energy in kWh per circuit (cabinet / circuit) and {period}",
    "energy.chartLabel": "Bar chart of the energy of all circuits from {from} to {to}: highest {max}, total {sum}. The table below gives every figure.",
    "energy.done": "{n} circuits, {sum} in all.",
    "fleet.title": "Fleet", "fleet.date": "Day", "fleet.show": "Show", "fleet.map": "Map of the vehicles and their tracks",
    "fleet.legend": "Vehicle state", "fleet.trackKey": "track of the day",
    "fleet.summary": "{n} vehicles: {km} km driven, {time} operating on {date}.", "fleet.none": "No vehicles.",
    "fleet.vehicles": "Vehicles", "fleet.caption": "Vehicles on {date}", "fleet.vehicle": "Vehicle", "fleet.type": "Type",
    "fleet.state": "State now", "fleet.lastReport": "Last report", "fleet.level": "Fuel or charge",
    "fleet.fuel": "fuel", "fleet.charge": "charge", "fleet.distance": "Distance", "fleet.operating": "Operating time",
    "fleet.driving": "Driving", "fleet.idle": "Idle time", "fleet.points": "Positions", "fleet.showTrack": "Show on map",
    "fleet.note": "Operating time is the time driving or stopped with the engine running (idle time); time at the depot does not count. A reported state counts for at most one hour.",
    "vstate.driving": "driving", "vstate.stopped": "stopped (idle)", "vstate.depot": "at the depot", "vstate.unknown": "unknown",
    "thing.trackMap": "Map of the location history", "thing.trackSummary": "{n} positions from {from} to {to}.",
    "thing.start": "first position", "thing.end": "latest position",
    "unit.percent": "%", "ago": "{t}",
    "error": "Something went wrong: {message}",
    // environment, parking and administration views
    "nav.environment": "Environment", "nav.parking": "Parking", "nav.admin": "Administration",
    "day.table": "Values as a table", "day.time": "Time", "aq.1": "very good",
    "aq.2": "good", "aq.3": "moderate", "aq.4": "poor",
    "aq.5": "very poor", "env.title": "Environment: air quality and traffic", "env.now": "Air quality now",
    "env.explain": "Rated by the German air quality index of the Umweltbundesamt: NO2 by its mean of the last hour, PM10 and PM2.5 by their mean of the last 24 hours. ⚠ marks a mean above the EU limit value (39. BImSchV): NO2 200 µg/m³ (1-hour mean), PM10 50 µg/m³ (daily mean).", "env.map": "Map of the air-quality stations", "env.legend": "Air quality index",
    "env.caption": "Air-quality stations: mean, rating and latest value of each pollutant", "env.station": "Station", "env.no2": "NO2",
    "env.pm10": "PM10", "env.pm25": "PM2.5", "env.temperature": "Temperature",
    "env.humidity": "Humidity", "env.mean1h": "1-hour mean", "env.mean24h": "24-hour mean",
    "env.rating": "Overall", "env.updated": "Updated", "env.unrated": "no rating",
    "env.latest": "latest {value}", "env.exceeded": "limit value {limit} exceeded", "env.none": "No air-quality stations.",
    "env.today": "Today, {date}", "env.chartTitle": "{pollutant}: hourly means today", "env.chartSummary": "{pollutant} today at {n} stations: highest hourly mean {max} at {station}, {time}",
    "env.limit": "limit value", "env.counts": "Traffic counts today", "env.nocounters": "No counting sensors.",
    "env.counter": "Counting point", "env.countToday": "Counted today", "env.busiest": "Busiest hour",
    "env.details": "By direction and class", "env.byStream": "{n} counts", "env.countsChart": "Road users counted per hour today",
    "env.countsSummary": "{n} counting points, {total} road users counted today", "park.title": "Parking", "park.total": "{lots} lots with {bays} bays: {free} free now",
    "park.map": "Map of the car parks", "park.caption": "Car parks now, kept up to date live", "park.lot": "Car park",
    "park.bays": "Bays", "park.free": "Free", "park.occupied": "Occupied",
    "park.unknown": "No report", "park.occupancy": "Occupancy", "park.peak": "Peak today",
    "park.mean": "Mean today", "park.updated": "Last report", "park.lvl.full": "full",
    "park.lvl.busy": "busy", "park.lvl.free": "spaces free", "park.lvl.unknown": "unknown",
    "park.marker": "{name}: {free} of {bays} bays free, {level}", "park.curve": "Occupancy through the day", "park.date": "Day",
    "park.show": "Show", "park.chartTitle": "Occupancy per car park, {date}", "park.chartSummary": "Highest occupancy: {peaks}",
    "park.none": "No car parks with bay sensors.", "park.nowFull": "{name} is now full", "admin.title": "Administration",
    "admin.sections": "Administration sections", "admin.devices": "Devices", "admin.rules": "Rules",
    "admin.channels": "Notification channels", "admin.delete": "Delete", "admin.deleted": "{name} deleted",
    "admin.failed": "That did not work: {message}", "admin.required": "Please fill this in.", "admin.previous": "Previous",
    "admin.next": "Next", "dev.devices": "Registered devices", "dev.search": "Search by name or DevEUI",
    "dev.count": "{n} devices; {from} to {to} shown", "dev.none": "No devices found.", "dev.devEui": "DevEUI",
    "dev.name": "Name", "dev.profile": "Device profile", "dev.thing": "Thing",
    "dev.datastreams": "Datastreams", "dev.actions": "Actions", "dev.open": "open",
    "dev.description": "Description", "dev.fields": "Fields (unit)", "dev.profiles": "Device profiles",
    "dev.noprofiles": "No device profiles yet: create one through the API (POST /api/device-profiles).", "dev.confirmProfile": "Delete the device profile {name}?", "dev.confirmDevice": "Delete the device {name}? Its Thing and data stay.",
    "dev.registerTitle": "Register devices", "dev.registerOne": "One device", "dev.registerMany": "Many devices from a CSV file",
    "dev.devEuiHint": "16 hexadecimal digits, e.g. 70B3D57ED0001234", "dev.latitude": "Latitude", "dev.longitude": "Longitude",
    "dev.latHint": "Optional, in degrees (WGS 84), e.g. 50.4131", "dev.register": "Register", "dev.needEui": "devEui: please enter the device's DevEUI.",
    "dev.registered": "{name} ({eui}) registered.", "dev.csvFile": "CSV file", "dev.csvHint": "A header line with devEui, name, profile and optionally latitude, longitude, description; other columns become properties. All lines are registered, or none.",
    "dev.upload": "Upload and register", "dev.chooseFile": "Please choose a CSV file.", "dev.csvDone": "{n} devices registered.",
    "dev.line": "Line {line}: {message}", "rules.list": "Rules", "rules.none": "No rules yet.",
    "rules.name": "Rule", "rules.condition": "Condition", "rules.severity": "Severity",
    "rules.state": "State", "rules.alerts": "Open alerts", "rules.actions": "Actions",
    "rules.enabled": "enabled", "rules.disabled": "disabled", "rules.enable": "Enable",
    "rules.disable": "Disable", "rules.enabledNow": "{name} enabled", "rules.disabledNow": "{name} disabled",
    "rules.confirm": "Delete the rule {name}?", "rules.new": "New rule", "rules.json": "Rule (JSON)",
    "rules.jsonHint": "A rule as the API takes it: name, target, condition, severity or levels. The server checks it and says what is wrong.", "rules.create": "Create rule", "rules.example": "Insert an example",
    "rules.badJson": "This is not valid JSON: {message}", "rules.created": "Rule {name} created.", "chan.list": "Channels",
    "chan.none": "No notification channels yet.", "chan.name": "Name", "chan.type": "Type",
    "chan.target": "Goes to", "chan.minSeverity": "From severity", "chan.state": "State",
    "chan.actions": "Actions", "chan.deliveries": "Deliveries", "chan.confirm": "Delete the channel {name} and its deliveries?",
    "chan.deliveriesOf": "Deliveries of {name} ({n} in all)", "chan.nodeliveries": "{name} has delivered nothing yet.", "chan.createdAt": "Created",
    "chan.alert": "Alert", "chan.event": "Event", "chan.status": "Status",
    "chan.attempts": "Attempts", "chan.lastError": "Last error", "chan.kind.opened": "opened",
    "chan.kind.escalated": "escalated", "chan.kind.deescalated": "de-escalated", "chan.kind.acknowledged": "acknowledged",
    "chan.kind.commented": "commented", "chan.kind.resolved": "resolved", "chan.kind.reminder": "reminder",
    "chan.status.pending": "pending", "chan.status.delivered": "delivered", "chan.status.failed": "failed",
    "chan.type.webhook": "Webhook (HTTPS)", "chan.type.mqtt": "MQTT", "chan.type.email": "E-mail",
    "chan.type.cap": "CAP warning feed", "chan.nameHint": "Lower-case letters, digits and dashes, e.g. leitstelle", "chan.target.webhook": "URL",
    "chan.target.mqtt": "MQTT topic", "chan.target.email": "Recipients", "chan.target.cap": "CAP sender",
    "chan.targetHint.webhook": "https://… where alerts are posted, signed with the channel's secret", "chan.targetHint.mqtt": "A topic without wildcards, e.g. stadt/alarme", "chan.targetHint.email": "E-mail addresses, separated by commas",
    "chan.targetHint.cap": "Optional: who issues the warnings, e.g. warnung@stadt.example", "chan.new": "New channel", "chan.create": "Create channel",
    "chan.created": "Channel {name} created.", "chan.createdSecret": "Channel {name} created. Its secret, shown only now: {secret}",
  },
  de: {
    "skip": "Zum Inhalt springen", "nav.label": "Hauptmenü", "nav.map": "Karte", "nav.alerts": "Alarme",
    "nav.flood": "Hochwasser", "nav.explore": "Datenexplorer", "language": "Sprache", "apiKey": "API-Schlüssel", "loading": "Wird geladen…",
    "account.login": "Anmelden", "account.logout": "Abmelden", "account.as": "Angemeldet als {user} ({role})",
    "account.label": "Konto", "login.title": "Anmelden", "login.name": "Benutzername", "login.password": "Passwort",
    "login.submit": "Anmelden", "login.busy": "Anmeldung läuft…", "login.failed": "Anmeldung fehlgeschlagen: {message}",
    "login.back": "Ohne Anmeldung zurück zum Dashboard", "login.intro": "Melden Sie sich mit dem Konto an, das eine Administratorin oder ein Administrator Ihrer Stadt für Sie angelegt hat. Ohne Anmeldung sehen Sie die öffentlichen Daten.",
    "explore.title": "Datenexplorer",
    "explore.intro": "Wählen Sie ein Ding, seine Datenströme und einen Zeitraum: Sie erhalten die SensorThings-Abfrage, die dieselben Daten liefert, und einen CSV-Download.",
    "explore.thing": "Ding", "explore.datastreams": "Datenströme", "explore.range": "Zeitraum",
    "explore.h1": "letzte Stunde", "explore.d1": "letzte 24 Stunden", "explore.d7": "letzte 7 Tage", "explore.d30": "letzte 30 Tage",
    "explore.query": "Dieselben Daten aus der SensorThings-API", "explore.json": "Als JSON öffnen",
    "explore.csv": "CSV herunterladen", "explore.preview": "Neueste Werte", "explore.empty": "Keine Werte in diesem Zeitraum.",
    "explore.pick": "Wählen Sie ein Ding und mindestens einen seiner Datenströme.",
    "explore.time": "Zeit", "explore.datastream": "Datenstrom", "explore.value": "Wert",
    "live.on": "Live", "live.off": "Verbindung wird wiederhergestellt…",
    "map.title": "Übersichtskarte", "map.region": "Karte der Dinge der Stadt",
    "map.search": "Dinge suchen", "map.layers": "Anwendungsfälle", "map.count": "{n} Dinge angezeigt",
    "map.more": "… und {n} weitere: Suche eingrenzen", "map.things": "Dinge",
    "layer.lighting": "Beleuchtung", "layer.water": "Wasser", "layer.fleet": "Fuhrpark",
    "layer.environment": "Umwelt", "layer.parking": "Parken", "layer.other": "Sonstiges",
    "status.ok": "In Ordnung", "status.stale": "Keine aktuellen Daten", "status.nodata": "Keine Daten",
    "status.minor": "Alarm (gering)", "status.moderate": "Alarm (mittel)",
    "status.severe": "Alarm (schwer)", "status.extreme": "Alarm (extrem)",
    "status.legend": "Status", "cluster": "{n} Dinge, schlechtester Status: {status}",
    "thing.back": "Zurück zur Karte", "thing.datastreams": "Datenströme",
    "thing.name": "Datenstrom", "thing.latest": "Letzter Wert", "thing.time": "Zeit",
    "thing.show": "Diagramm", "thing.chart": "Zeitreihe", "thing.alerts": "Offene Alarme",
    "thing.noalerts": "Keine offenen Alarme.", "thing.history": "Standortverlauf",
    "thing.nohistory": "Keine Standorte erfasst.", "thing.position": "Position",
    "thing.notfound": "Es gibt kein Ding {id}.", "thing.kind": "Art",
    "chart.range": "Zeitraum", "chart.h1": "1 Stunde", "chart.h6": "6 Stunden", "chart.d1": "1 Tag",
    "chart.d7": "7 Tage", "chart.d30": "30 Tage", "chart.y1": "1 Jahr",
    "chart.summary": "{name}: {n} Werte von {from} bis {to}, niedrigster {min}, höchster {max}",
    "chart.empty": "Keine Werte in diesem Zeitraum.", "chart.text": "Textwerte lassen sich nicht als Diagramm zeigen.",
    "chart.aggregated": "Mittel, niedrigster und höchster Wert je {interval} ({n} Werte insgesamt).",
    "chart.raw": "Alle Werte ({n}).", "chart.zoom": "Über das Diagramm ziehen zum Vergrößern, Doppelklick zum Verkleinern.",
    "chart.mean": "Mittel", "chart.min": "niedrigster", "chart.max": "höchster",
    "alerts.title": "Alarme", "alerts.open": "Offen und bestätigt", "alerts.recent": "Zuletzt, alle",
    "alerts.show": "Anzeigen", "alerts.none": "Keine Alarme.", "alerts.severity": "Schwere",
    "alerts.alert": "Alarm", "alerts.thing": "Ding", "alerts.opened": "Ausgelöst", "alerts.status": "Status",
    "alerts.actions": "Aktionen", "alerts.ack": "Bestätigen", "alerts.resolve": "Beheben",
    "alerts.by": "Ihr Name", "alerts.comment": "Kommentar", "alerts.cancel": "Abbrechen",
    "alerts.ackTitle": "Alarm bestätigen", "alerts.resolveTitle": "Alarm beheben",
    "alerts.new": "Neuer Alarm: {message}", "alerts.changed": "Alarm geändert: {message}",
    "alerts.ackBy": "bestätigt von {by}", "alerts.failed": "Das hat nicht geklappt: {message}",
    "state.open": "offen", "state.acknowledged": "bestätigt", "state.resolved": "behoben",
    "sev.minor": "gering", "sev.moderate": "mittel", "sev.severe": "schwer", "sev.extreme": "extrem",
    "flood.title": "Hochwasser: Pegel", "flood.level": "Wasserstand", "flood.stage": "Meldestufe",
    "flood.stage0": "unter Meldestufe 1", "flood.stageN": "Meldestufe {n}",
    "flood.trend": "Tendenz (letzte Stunde)", "flood.rising": "steigend", "flood.falling": "fallend",
    "flood.steady": "gleichbleibend", "flood.none": "Keine Pegel.", "flood.bands": "Meldestufen",
    "nav.lighting": "Beleuchtung", "nav.fleet": "Fuhrpark",
    "lighting.title": "Straßenbeleuchtung", "lighting.map": "Karte der Straßenleuchten nach Status",
    "lighting.legend": "Leuchtenstatus", "lighting.summary": "{n} Leuchten an {c} Stromkreisen. Eine Leuchte auf der Karte auswählen, um sie zu öffnen.",
    "lighting.none": "Keine Straßenleuchten.", "lighting.circuits": "Stromkreise je Schaltschrank", "lighting.circuitsCaption": "Leuchten jedes Stromkreises nach Status, mit Netzspannung und Last des Schaltschranks",
    "lighting.cabinet": "Schaltschrank", "lighting.circuit": "Stromkreis", "lighting.circuitState": "Stromkreis ist",
    "lighting.lamps": "Leuchten", "lighting.voltage": "Netzspannung", "lighting.load": "Last",
    "lighting.noCabinet": "ohne Schaltschrank", "lighting.attention": "Leuchten mit Handlungsbedarf",
    "lighting.allGood": "Alle Leuchten melden sich wie erwartet.", "lighting.lamp": "Leuchte", "lighting.status": "Status",
    "lighting.street": "Straße", "lighting.lastReport": "Letzte Meldung",
    "lamp.on": "an", "lamp.dimmed": "gedimmt", "lamp.off": "aus", "lamp.failed": "ausgefallen", "lamp.unknown": "keine Meldung",
    "energy.title": "Energie je Stromkreis",
    "energy.note": "Energie in kWh: Differenz des Zählerstands jeder Leuchte über den Zeitraum, je Stromkreis summiert.",
    "energy.by": "Zusammenfassen", "energy.per.day": "je Tag", "energy.per.month": "je Monat",
    "energy.period.day": "Tag", "energy.period.month": "Monat", "energy.from": "Von", "energy.to": "Bis",
    "energy.show": "Anzeigen", "energy.csv": "CSV herunterladen", "energy.all": "Alle Stromkreise", "energy.sum": "Summe",
    "energy.table": "Energie in kWh je Stromkreis (Schaltschrank / Stromkreis) und {period}",
    "energy.chartLabel": "Balkendiagramm der Energie aller Stromkreise von {from} bis {to}: höchstens {max}, insgesamt {sum}. Die Tabelle darunter nennt alle Werte.",
    "energy.done": "{n} Stromkreise, insgesamt {sum}.",
    "fleet.title": "Fuhrpark", "fleet.date": "Tag", "fleet.show": "Anzeigen", "fleet.map": "Karte der Fahrzeuge und ihrer Fahrten",
    "fleet.legend": "Fahrzeugzustand", "fleet.trackKey": "Fahrt des Tages",
    "fleet.summary": "{n} Fahrzeuge: {km} km gefahren, {time} in Betrieb am {date}.", "fleet.none": "Keine Fahrzeuge.",
    "fleet.vehicles": "Fahrzeuge", "fleet.caption": "Fahrzeuge am {date}", "fleet.vehicle": "Fahrzeug", "fleet.type": "Art",
    "fleet.state": "Zustand jetzt", "fleet.lastReport": "Letzte Meldung", "fleet.level": "Tank oder Akku",
    "fleet.fuel": "Tank", "fleet.charge": "Akku", "fleet.distance": "Strecke", "fleet.operating": "Betriebszeit",
    "fleet.driving": "Fahrzeit", "fleet.idle": "Standzeit", "fleet.points": "Positionen", "fleet.showTrack": "Auf der Karte zeigen",
    "fleet.note": "Betriebszeit ist die Zeit in Fahrt oder im Stand mit laufendem Motor (Standzeit); Zeit im Betriebshof zählt nicht. Ein gemeldeter Zustand zählt höchstens eine Stunde.",
    "vstate.driving": "fährt", "vstate.stopped": "steht (Leerlauf)", "vstate.depot": "im Betriebshof", "vstate.unknown": "unbekannt",
    "thing.trackMap": "Karte des Standortverlaufs", "thing.trackSummary": "{n} Positionen von {from} bis {to}.",
    "thing.start": "erste Position", "thing.end": "letzte Position",
    "unit.percent": "%", "ago": "{t}",
    "error": "Etwas ist schiefgegangen: {message}",
    // environment, parking and administration views
    "nav.environment": "Umwelt", "nav.parking": "Parken", "nav.admin": "Verwaltung",
    "day.table": "Werte als Tabelle", "day.time": "Zeit", "aq.1": "sehr gut",
    "aq.2": "gut", "aq.3": "mäßig", "aq.4": "schlecht",
    "aq.5": "sehr schlecht", "env.title": "Umwelt: Luftqualität und Verkehr", "env.now": "Luftqualität jetzt",
    "env.explain": "Bewertet nach dem Luftqualitätsindex des Umweltbundesamts: NO2 nach dem Mittel der letzten Stunde, PM10 und PM2,5 nach dem Mittel der letzten 24 Stunden. ⚠ kennzeichnet ein Mittel über dem EU-Grenzwert (39. BImSchV): NO2 200 µg/m³ (Stundenmittel), PM10 50 µg/m³ (Tagesmittel).", "env.map": "Karte der Luftmessstationen", "env.legend": "Luftqualitätsindex",
    "env.caption": "Luftmessstationen: Mittel, Bewertung und letzter Wert je Schadstoff", "env.station": "Station", "env.no2": "NO2",
    "env.pm10": "PM10", "env.pm25": "PM2,5", "env.temperature": "Temperatur",
    "env.humidity": "Luftfeuchte", "env.mean1h": "Stundenmittel", "env.mean24h": "24-Stunden-Mittel",
    "env.rating": "Gesamt", "env.updated": "Aktualisiert", "env.unrated": "keine Bewertung",
    "env.latest": "zuletzt {value}", "env.exceeded": "Grenzwert {limit} überschritten", "env.none": "Keine Luftmessstationen.",
    "env.today": "Heute, {date}", "env.chartTitle": "{pollutant}: Stundenmittel heute", "env.chartSummary": "{pollutant} heute an {n} Stationen: höchstes Stundenmittel {max} an {station}, {time}",
    "env.limit": "Grenzwert", "env.counts": "Verkehrszählung heute", "env.nocounters": "Keine Zählstellen.",
    "env.counter": "Zählstelle", "env.countToday": "Heute gezählt", "env.busiest": "Stärkste Stunde",
    "env.details": "Nach Richtung und Klasse", "env.byStream": "{n} Zählungen", "env.countsChart": "Gezählte Verkehrsteilnehmer je Stunde heute",
    "env.countsSummary": "{n} Zählstellen, heute {total} Verkehrsteilnehmer gezählt", "park.title": "Parken", "park.total": "{lots} Parkplätze mit {bays} Stellplätzen: jetzt {free} frei",
    "park.map": "Karte der Parkplätze", "park.caption": "Parkplätze jetzt, live aktualisiert", "park.lot": "Parkplatz",
    "park.bays": "Stellplätze", "park.free": "Frei", "park.occupied": "Belegt",
    "park.unknown": "Ohne Meldung", "park.occupancy": "Auslastung", "park.peak": "Höchste heute",
    "park.mean": "Mittel heute", "park.updated": "Letzte Meldung", "park.lvl.full": "voll",
    "park.lvl.busy": "fast voll", "park.lvl.free": "Plätze frei", "park.lvl.unknown": "unbekannt",
    "park.marker": "{name}: {free} von {bays} Stellplätzen frei, {level}", "park.curve": "Auslastung im Tagesverlauf", "park.date": "Tag",
    "park.show": "Anzeigen", "park.chartTitle": "Auslastung je Parkplatz, {date}", "park.chartSummary": "Höchste Auslastung: {peaks}",
    "park.none": "Keine Parkplätze mit Stellplatzsensoren.", "park.nowFull": "{name} ist jetzt voll", "admin.title": "Verwaltung",
    "admin.sections": "Bereiche der Verwaltung", "admin.devices": "Geräte", "admin.rules": "Regeln",
    "admin.channels": "Benachrichtigungskanäle", "admin.delete": "Löschen", "admin.deleted": "{name} gelöscht",
    "admin.failed": "Das hat nicht geklappt: {message}", "admin.required": "Bitte ausfüllen.", "admin.previous": "Zurück",
    "admin.next": "Weiter", "dev.devices": "Registrierte Geräte", "dev.search": "Nach Name oder DevEUI suchen",
    "dev.count": "{n} Geräte; {from} bis {to} angezeigt", "dev.none": "Keine Geräte gefunden.", "dev.devEui": "DevEUI",
    "dev.name": "Name", "dev.profile": "Geräteprofil", "dev.thing": "Ding",
    "dev.datastreams": "Datenströme", "dev.actions": "Aktionen", "dev.open": "öffnen",
    "dev.description": "Beschreibung", "dev.fields": "Felder (Einheit)", "dev.profiles": "Geräteprofile",
    "dev.noprofiles": "Noch keine Geräteprofile: legen Sie eines über die API an (POST /api/device-profiles).", "dev.confirmProfile": "Geräteprofil {name} löschen?", "dev.confirmDevice": "Gerät {name} löschen? Sein Ding und seine Daten bleiben.",
    "dev.registerTitle": "Geräte registrieren", "dev.registerOne": "Ein Gerät", "dev.registerMany": "Viele Geräte aus einer CSV-Datei",
    "dev.devEuiHint": "16 Hexadezimalziffern, z. B. 70B3D57ED0001234", "dev.latitude": "Breitengrad", "dev.longitude": "Längengrad",
    "dev.latHint": "Optional, in Grad (WGS 84), z. B. 50,4131", "dev.register": "Registrieren", "dev.needEui": "devEui: Bitte geben Sie die DevEUI des Geräts ein.",
    "dev.registered": "{name} ({eui}) registriert.", "dev.csvFile": "CSV-Datei", "dev.csvHint": "Eine Kopfzeile mit devEui, name, profile und optional latitude, longitude, description; weitere Spalten werden Eigenschaften. Alle Zeilen werden registriert oder keine.",
    "dev.upload": "Hochladen und registrieren", "dev.chooseFile": "Bitte wählen Sie eine CSV-Datei.", "dev.csvDone": "{n} Geräte registriert.",
    "dev.line": "Zeile {line}: {message}", "rules.list": "Regeln", "rules.none": "Noch keine Regeln.",
    "rules.name": "Regel", "rules.condition": "Bedingung", "rules.severity": "Schwere",
    "rules.state": "Zustand", "rules.alerts": "Offene Alarme", "rules.actions": "Aktionen",
    "rules.enabled": "aktiv", "rules.disabled": "ausgeschaltet", "rules.enable": "Einschalten",
    "rules.disable": "Ausschalten", "rules.enabledNow": "{name} eingeschaltet", "rules.disabledNow": "{name} ausgeschaltet",
    "rules.confirm": "Regel {name} löschen?", "rules.new": "Neue Regel", "rules.json": "Regel (JSON)",
    "rules.jsonHint": "Eine Regel, wie die API sie annimmt: name, target, condition, severity oder levels. Der Server prüft sie und sagt, was nicht stimmt.", "rules.create": "Regel anlegen", "rules.example": "Beispiel einfügen",
    "rules.badJson": "Das ist kein gültiges JSON: {message}", "rules.created": "Regel {name} angelegt.", "chan.list": "Kanäle",
    "chan.none": "Noch keine Benachrichtigungskanäle.", "chan.name": "Name", "chan.type": "Art",
    "chan.target": "Geht an", "chan.minSeverity": "Ab Schwere", "chan.state": "Zustand",
    "chan.actions": "Aktionen", "chan.deliveries": "Zustellungen", "chan.confirm": "Kanal {name} mit seinen Zustellungen löschen?",
    "chan.deliveriesOf": "Zustellungen von {name} ({n} insgesamt)", "chan.nodeliveries": "{name} hat noch nichts zugestellt.", "chan.createdAt": "Angelegt",
    "chan.alert": "Alarm", "chan.event": "Ereignis", "chan.status": "Status",
    "chan.attempts": "Versuche", "chan.lastError": "Letzter Fehler", "chan.kind.opened": "ausgelöst",
    "chan.kind.escalated": "verschärft", "chan.kind.deescalated": "abgeschwächt", "chan.kind.acknowledged": "bestätigt",
    "chan.kind.commented": "kommentiert", "chan.kind.resolved": "behoben", "chan.kind.reminder": "Erinnerung",
    "chan.status.pending": "ausstehend", "chan.status.delivered": "zugestellt", "chan.status.failed": "fehlgeschlagen",
    "chan.type.webhook": "Webhook (HTTPS)", "chan.type.mqtt": "MQTT", "chan.type.email": "E-Mail",
    "chan.type.cap": "CAP-Warnfeed", "chan.nameHint": "Kleinbuchstaben, Ziffern und Bindestriche, z. B. leitstelle", "chan.target.webhook": "URL",
    "chan.target.mqtt": "MQTT-Topic", "chan.target.email": "Empfänger", "chan.target.cap": "CAP-Absender",
    "chan.targetHint.webhook": "https://…, wohin Alarme gesendet werden, signiert mit dem Geheimnis des Kanals", "chan.targetHint.mqtt": "Ein Topic ohne Platzhalter, z. B. stadt/alarme", "chan.targetHint.email": "E-Mail-Adressen, durch Kommas getrennt",
    "chan.targetHint.cap": "Optional: wer die Warnungen herausgibt, z. B. warnung@stadt.example", "chan.new": "Neuer Kanal", "chan.create": "Kanal anlegen",
    "chan.created": "Kanal {name} angelegt.", "chan.createdSecret": "Kanal {name} angelegt. Sein Geheimnis, nur jetzt angezeigt: {secret}",
  },
};

// The operations pages (work orders, lighting control, trips) keep their texts apart.
for (const [language, texts] of Object.entries(OPERATIONS_TEXTS)) Object.assign(TEXTS[language], texts);

const KEY = "quartier.lang";
export const LANGUAGES = Object.keys(TEXTS);
let current = pick();

function pick() {
  const stored = globalThis.localStorage?.getItem(KEY);
  if (stored && TEXTS[stored]) return stored;
  for (const tag of navigator.languages || [navigator.language || "en"]) {
    const base = String(tag).slice(0, 2).toLowerCase();
    if (TEXTS[base]) return base;
  }
  return "en";
}

export function lang() { return current; }

export function setLang(value) {
  if (!TEXTS[value]) return;
  current = value;
  globalThis.localStorage?.setItem(KEY, value);
  document.documentElement.lang = value;
}

export function t(key, values = {}) {
  const text = TEXTS[current][key] ?? TEXTS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : `{${name}}`));
}

/** Texts of the static page (elements with data-i18n and data-i18n-label). */
export function translatePage(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
}

export function number(value, digits = 2, fixed = false) {
  const options = { maximumFractionDigits: digits, minimumFractionDigits: fixed ? digits : 0 };
  return new Intl.NumberFormat(current, options).format(value);
}

const UNIT_SYMBOLS = { percent: "%", none: "", count: "" };

/** A result with its unit, e.g. "12,5 cm" or "on". */
export function quantity(result, unit) {
  if (result === null || result === undefined) return "–";
  if (typeof result === "boolean") return result ? (current === "de" ? "ja" : "yes") : (current === "de" ? "nein" : "no");
  if (typeof result !== "number") return typeof result === "string" ? result : JSON.stringify(result);
  const symbol = unit ? (UNIT_SYMBOLS[unit.symbol] ?? unit.symbol ?? "") : "";
  const text = number(result, Math.abs(result) >= 100 ? 1 : 2);
  return symbol ? (symbol === "%" && current === "en" ? `${text}%` : `${text}\u00a0${symbol}`) : text;
}

export function dateTime(value) {
  if (!value) return "–";
  const date = value instanceof Date ? value : new Date(String(value).split("/").pop());
  return new Intl.DateTimeFormat(current, { dateStyle: "medium", timeStyle: "short" }).format(date);
}

/** "5 minutes ago", "vor 3 Tagen". */
export function ago(value) {
  if (!value) return "–";
  const date = new Date(String(value).split("/").pop());
  const seconds = (date.getTime() - Date.now()) / 1000;
  const steps = [[60, "second"], [3600, "minute"], [86400, "hour"], [86400 * 30, "day"], [Infinity, "month"]];
  const sizes = { second: 1, minute: 60, hour: 3600, day: 86400, month: 86400 * 30 };
  const [, unit] = steps.find(([limit]) => Math.abs(seconds) < limit);
  return new Intl.RelativeTimeFormat(current, { numeric: "auto" }).format(Math.round(seconds / sizes[unit]), unit);
}

/** A duration in seconds as "6 minutes", "2 Stunden". */
export function duration(seconds) {
  const units = [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
  const [unit, size] = units.find(([, s]) => seconds >= s) || units[3];
  return new Intl.NumberFormat(current, { style: "unit", unit, unitDisplay: "long", maximumFractionDigits: 1 })
    .format(seconds / size);
}
