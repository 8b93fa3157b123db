"""CareOn Vision: RTSP cameras to visitor counts, zone occupancy, dwell times and heatmaps.

Only numbers and a rendered heatmap leave the box; no frame is stored or sent.
"""

__version__ = "0.1.0"
