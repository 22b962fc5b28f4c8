"""The text app: the text analyzers loaded once and shared by its API, page, job kind and
command (:data:`TEXT_APP`)."""

from nunchi.apps.text.service import TASKS, TextAnalysisService, TextLimits, TextTask

__all__ = ["TASKS", "TextAnalysisService", "TextLimits", "TextTask"]
