"""The language a customer writes in, detected offline (langid.py's model, via py3langid).

Short messages ("hi", "thanks!") say little: a language is only reported above a confidence, and a
conversation keeps the first confident detection. Detection is limited to the languages a team may
support, which also makes it more accurate.
"""

from functools import cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

MIN_CONFIDENCE = 0.8
MIN_LETTERS = 8


@cache
def _identifier(languages: tuple[str, ...]) -> LanguageIdentifier:
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    if languages:
        identifier.set_languages(list(languages))
    return identifier


def detect_language(text: str | None, languages: tuple[str, ...] = ()) -> str | None:
    """An ISO 639-1 code when `text` is confidently in one of `languages` (any when empty), else None."""
    if not text or sum(ch.isalpha() for ch in text) < MIN_LETTERS:
        return None
    language, confidence = _identifier(languages).classify(text)
    return str(language) if confidence >= MIN_CONFIDENCE else None
