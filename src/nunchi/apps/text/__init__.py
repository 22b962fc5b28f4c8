"""Text analysis as a service: the text analyzers loaded once and shared by API, CLI and stages."""

from nunchi.apps.text.service import TASKS, TextAnalysisService, TextLimits, TextTask

__all__ = ["TASKS", "TextAnalysisService", "TextLimits", "TextTask"]
