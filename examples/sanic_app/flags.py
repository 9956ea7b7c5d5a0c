"""Language code -> flag emoji, for showing the detected language next to a transcript.

A language is not a country, so each code maps to the region most associated with it
(English -> GB, Portuguese -> PT...). Languages without a fitting region flag, and codes
the table does not know, get `FALLBACK_FLAG` rather than a wrong flag.
"""

from __future__ import annotations

from typing import Final

#: Shown for an unknown, missing or region-less language.
FALLBACK_FLAG: Final = "\N{GLOBE WITH MERIDIANS}"

# Regional indicator symbols start here: "A" -> U+1F1E6; two of them render as a flag.
_REGIONAL_A: Final = 0x1F1E6
# Welsh has a subdivision flag (a tag sequence), not a two-letter region.
_WALES: Final = "\U0001f3f4\U000e0067\U000e0062\U000e0077\U000e006c\U000e0073\U000e007f"

#: Language code -> ISO 3166-1 region, or a ready-made flag.
LANGUAGE_REGIONS: Final[dict[str, str]] = {
    "af": "ZA", "am": "ET", "ar": "SA", "as": "IN", "az": "AZ", "ba": "RU", "be": "BY",
    "bg": "BG", "bn": "BD", "br": "FR", "bs": "BA", "ca": "AD", "cs": "CZ", "cy": _WALES,
    "da": "DK", "de": "DE", "el": "GR", "en": "GB", "es": "ES", "et": "EE", "eu": "ES",
    "fa": "IR", "fi": "FI", "fo": "FO", "fr": "FR", "gl": "ES", "gu": "IN", "ha": "NG",
    "haw": "US", "he": "IL", "hi": "IN", "hr": "HR", "ht": "HT", "hu": "HU", "hy": "AM",
    "id": "ID", "is": "IS", "it": "IT", "ja": "JP", "jw": "ID", "ka": "GE", "kk": "KZ",
    "km": "KH", "kn": "IN", "ko": "KR", "la": "VA", "lb": "LU", "ln": "CD", "lo": "LA",
    "lt": "LT", "lv": "LV", "mg": "MG", "mi": "NZ", "mk": "MK", "ml": "IN", "mn": "MN",
    "mr": "IN", "ms": "MY", "mt": "MT", "my": "MM", "ne": "NP", "nl": "NL", "nn": "NO",
    "no": "NO", "oc": "FR", "pa": "IN", "pl": "PL", "ps": "AF", "pt": "PT", "ro": "RO",
    "ru": "RU", "sa": "IN", "sd": "PK", "si": "LK", "sk": "SK", "sl": "SI", "sn": "ZW",
    "so": "SO", "sq": "AL", "sr": "RS", "su": "ID", "sv": "SE", "sw": "TZ", "ta": "IN",
    "te": "IN", "tg": "TJ", "th": "TH", "tk": "TM", "tl": "PH", "tr": "TR", "tt": "RU",
    "uk": "UA", "ur": "PK", "uz": "UZ", "vi": "VN", "yo": "NG", "yue": "HK", "zh": "CN",
}  # fmt: skip


def region_flag(region: str) -> str:
    """The flag emoji of a two-letter ISO 3166-1 region code (``"DE"`` -> 🇩🇪)."""
    if len(region) != 2 or not region.isascii() or not region.isalpha():
        raise ValueError(f"not a two-letter region code: {region!r}")
    return "".join(chr(_REGIONAL_A + ord(letter) - ord("A")) for letter in region.upper())


def flag_for(language: str | None) -> str:
    """The flag shown for a language code; `FALLBACK_FLAG` when there is no fitting one."""
    region = LANGUAGE_REGIONS.get((language or "").strip().lower())
    if region is None:
        return FALLBACK_FLAG
    return region if len(region) != 2 else region_flag(region)
