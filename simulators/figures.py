"""Published figures the resident model is tuned to, and the ranges the tests hold it to.

No web access was available when this was written: the figures below are as published
in the cited works to the best of the author's recollection, rounded, and should be
re-checked against the originals before being quoted elsewhere. Where no good source
was at hand the value is marked as an assumption.

Water use
    - GB/T 50331-2002 "城市居民生活用水量标准" (urban residential water use standard,
      China): 80–180 L per person per day depending on the region; the Yangtze-delta
      region (Shanghai, Jiangsu, Zhejiang) 120–180 L.
    - China Water Resources Bulletin (水资源公报), recent years: urban per-capita
      domestic use around 120–180 L/day for households (higher, ~220 L, when public
      services are included).
    - Surveys of household water use generally find older and one-person households
      use less per head than the average; we target 60–140 L/day for a person living
      alone and accept 40–180 L/day (per-person mean over at-home days).
    - Fixture volumes: GB 25502-2017 (toilet water efficiency) grade 1–3 flushes of
      4.0–6.4 L; older toilets 6–9 L, so 4.5–9 L per flush. GB 28378-2019 (shower
      heads): grade 3 at most about 9 L/min; showers of 5–10 min, 30–90 L.
Night-time toilet visits (nocturia)
    - Bosch & Weiss, "The prevalence and causes of nocturia", J Urol 2010;184:440–446:
      at least one void a night in roughly 70–90 % of people over 70, two or more in
      roughly 30–60 %. Persons are drawn as rare (0.1–0.5 per night), common (0.8–1.8)
      or frequent (2–3) night voiders; the per-person mean must lie in 0–3.5.
Sleep
    - Ohayon et al., "Meta-analysis of quantitative sleep parameters from childhood to
      old age", Sleep 2004;27:1255–1273: total sleep time about 6–7 h in older adults,
      time in bed longer. Chinese older adults go to bed early and rise early (CLHLS
      reports on sleep; assumption for the exact clock times): wake 04:45–08:15, bed
      20:00–23:45, time in bed 7–10 h.
    - Afternoon napping is common among Chinese older adults (CLHLS-based studies
      report roughly half to two thirds napping): nap probability 0.2–0.95 a day,
      30–90 min.
Time out of home
    - China Time Use Survey 2018 (National Bureau of Statistics, 2019) and GPS studies
      of older adults (e.g. Kerr et al. 2012, older adults' time at home) put most of
      an older person's day at home, with about 1–5 h a day out on average and
      homebodies below 1 h. Per-person mean hours out per day must lie in 0.2–7,
      the population mean in 1–5.
Motion sensor events
    - Consumer Zigbee PIR sensors re-arm 30–60 s after a detection (e.g. Aqara / Xiaomi
      motion sensors: 60 s by default). CASAS single-resident test beds (Cook et al.,
      "CASAS: a smart home in a box", Computer 2013;46(7)) log thousands of sensor
      events a day with far more sensors than our one per room; with one PIR per room
      we target a few hundred to ~1,500 motion events per day and accept 150–2,000
      (per-person mean over at-home days).
Falls
    - WHO Global Report on Falls Prevention in Older Age (2007): 28–35 % of people over
      65 fall each year. Fleming & Brayne, BMJ 2008;337:a2227: many who fall cannot get
      up and lie for an hour or more ("long lie"). Lies here: recovered after 0.75–5 h,
      or found after 3–30 h.

Incident rates in the default mix are far above real incidence on purpose: they exist to
exercise the detectors (a few incidents per home in 60 days), not to estimate risk.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Range:
    """An inclusive range of plausible values for one figure."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError("low must not exceed high")

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int | float) and self.low <= value <= self.high


# Per-person means over days at home and free of incidents.
WATER_L_PER_DAY = Range(40.0, 180.0)
NIGHT_TOILET_VISITS_PER_NIGHT = Range(0.0, 3.5)
HOURS_OUT_PER_DAY = Range(0.2, 7.0)
HOURS_OUT_PER_DAY_POPULATION = Range(1.0, 5.0)
MOTION_EVENTS_PER_DAY = Range(150.0, 2000.0)
# Longest gap between motion events in the day (09:00–20:00 local) while at home.
MAX_DAYTIME_MOTION_GAP_HOURS = 3.0
