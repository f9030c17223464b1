"""Offline text utilities for the IFEval checkers: sentence splitting, word counting,
word tokenization and a small language identifier. Standard library only, no downloads.

IFEval's reference code uses NLTK's punkt model (downloaded at run time) and
``langdetect``. These are rule-based stand-ins:

- ``split_sentences``: splits after ``.``, ``!`` or ``?`` (plus closing quotes/brackets)
  followed by whitespace, except after common abbreviations and single-letter initials.
  Like punkt it does not split on bare newlines. It differs from punkt on unusual
  abbreviations and on ellipses followed by a capital letter.
- ``count_words``: ``\\w+`` tokens, exactly NLTK's ``RegexpTokenizer(r"\\w+")``.
- ``detect_language``: the dominant Unicode script decides for script-unique languages
  (Korean, Japanese, Thai, Hebrew, Greek, Indic scripts); within Latin, Cyrillic,
  Arabic and Devanagari, distinctive letters and stop-word hits decide. Limits: short
  texts (under ~5 words) with no stop words are guessed English; languages outside the
  built-in lists are reported as the closest listed one; code-mixed text gets its majority
  language.
"""

from __future__ import annotations

import re
import unicodedata

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "inc", "ltd", "co", "corp",
    "e.g", "i.e", "u.s", "u.k", "no", "vol", "fig", "approx", "dept", "est", "mt", "jan", "feb",
    "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "a.m", "p.m", "cf", "al",
}
_SENT_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s+|$)")


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (see module doc for the rules)."""
    out, start = [], 0
    for m in _SENT_END.finditer(text):
        before = text[start : m.start()].split()
        last = before[-1].lower().rstrip(".") if before else ""
        if m.group().startswith(".") and len(m.group().rstrip("\"'”’)]")) == 1:
            if last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha()):
                continue  # "Dr. Smith", "J. R. R. Tolkien"
        out.append(text[start : m.end()].strip())
        start = m.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return [s for s in out if s]


def count_sentences(text: str) -> int:
    return len(split_sentences(text))


def count_words(text: str) -> int:
    """Number of ``\\w+`` tokens (NLTK ``RegexpTokenizer(r"\\w+")``)."""
    return len(re.findall(r"\w+", text))


def word_tokenize(text: str) -> list[str]:
    """Words and punctuation runs as separate tokens (a stand-in for NLTK word_tokenize)."""
    return re.findall(r"\w+|[^\w\s]+", text)


# ------------------------------------------------------------------ language identifier

_SCRIPTS: tuple[tuple[str, int, int], ...] = (
    ("latin", 0x0041, 0x024F), ("latin", 0x1E00, 0x1EFF), ("greek", 0x0370, 0x03FF),
    ("cyrillic", 0x0400, 0x04FF), ("hebrew", 0x0590, 0x05FF), ("arabic", 0x0600, 0x06FF),
    ("arabic", 0x0750, 0x077F), ("arabic", 0xFB50, 0xFDFF), ("arabic", 0xFE70, 0xFEFF),
    ("devanagari", 0x0900, 0x097F), ("bengali", 0x0980, 0x09FF), ("gurmukhi", 0x0A00, 0x0A7F),
    ("gujarati", 0x0A80, 0x0AFF), ("tamil", 0x0B80, 0x0BFF), ("telugu", 0x0C00, 0x0C7F),
    ("kannada", 0x0C80, 0x0CFF), ("malayalam", 0x0D00, 0x0D7F), ("thai", 0x0E00, 0x0E7F),
    ("hangul", 0x1100, 0x11FF), ("hangul", 0x3130, 0x318F), ("hangul", 0xAC00, 0xD7AF),
    ("kana", 0x3040, 0x30FF), ("han", 0x4E00, 0x9FFF),
)
_SCRIPT_LANG = {
    "greek": "el", "hebrew": "he", "bengali": "bn", "gurmukhi": "pa", "gujarati": "gu", "tamil": "ta",
    "telugu": "te", "kannada": "kn", "malayalam": "ml", "thai": "th", "hangul": "ko", "kana": "ja", "han": "zh-cn",
}
_STOPWORDS: dict[str, set[str]] = {
    "en": set("the and of to is in that it you for was with are this be have not on as they we i".split()),
    "es": set("el la de que y en los las es por una con para del se no un su lo como más pero".split()),
    "pt": set("o a de que e do da em um uma para com não os as se na no é mais por dos mas".split()),
    "fr": set("le la les de des et est un une du en que qui pas pour dans ce il je vous sur avec au".split()),
    "de": set("der die das und ist nicht ein eine zu den mit von sie es ich auf für dem sich auch wir".split()),
    "it": set("il la di che e è un una per non del della con sono le gli si lo da ma più".split()),
    "nl": set("de het een en van is dat niet op te zijn met voor ik je er ook wat".split()),
    "pl": set("i w nie się na z że do to jest jak o co ale po tak".split()),
    "vi": set("và của là có không những được cho các một người trong với này đã".split()),
    "sw": set("na ya wa kwa ni katika za la hii kuwa yake cha watu sana lakini pia".split()),
    "fi": set("ja on ei se että oli hän ovat mutta kun myös tämä olla minä sen".split()),
    "tr": set("ve bir bu da de için ile çok ne ama gibi daha olarak var".split()),
    "id": set("dan yang di ini itu dengan untuk tidak dari akan pada ada saya juga".split()),
    "ru": set("и в не на что я с он как это по но из у к то все она так".split()),
    "uk": set("і в не на що я з він як це по але із у до та все вона так".split()),
    "bg": set("и в не на че аз с той как това по но от за да се са".split()),
    "hi": set("है के में की और से का को हैं यह कि पर भी".split()),
    "mr": set("आहे आणि या हे की ते व म्हणून होते आहेत".split()),
    "ne": set("छ र को मा हो गर्न पनि छन् यो लागि".split()),
    "ar": set("في من على أن إلى التي الذي هذا عن مع هذه كان".split()),
    "fa": set("و در به از که این را با است برای آن".split()),
    "ur": set("کے میں کی ہے اور سے کو یہ ہیں نے پر".split()),
}
_SCRIPT_CANDIDATES = {
    "latin": ("en", "es", "pt", "fr", "de", "it", "nl", "pl", "vi", "sw", "fi", "tr", "id"),
    "cyrillic": ("ru", "uk", "bg"),
    "devanagari": ("hi", "mr", "ne"),
    "arabic": ("ar", "fa", "ur"),
}
# Letters that (nearly) only one candidate of a script uses; each occurrence adds a vote.
_MARKERS = {
    "vi": "ơưăđạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ", "pl": "ąćęłńśźż",
    "de": "ßäöü", "es": "ñ¿¡", "pt": "ãõ", "fr": "èêëœ", "tr": "ğış", "fi": "",
    "uk": "іїєґ", "ru": "ыэё", "ur": "ےٹڈڑںھ", "fa": "پچژگ",
}


def _script(ch: str) -> str | None:
    cp = ord(ch)
    for name, lo, hi in _SCRIPTS:
        if lo <= cp <= hi:
            return name
    return None


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text``'s language (``zh-cn`` for Chinese), or None if it has no letters."""
    counts: dict[str, int] = {}
    for ch in unicodedata.normalize("NFC", text):
        if ch.isalpha():
            s = _script(ch)
            if s:
                counts[s] = counts.get(s, 0) + 1
    if not counts:
        return None
    if counts.get("kana"):  # Japanese mixes kana with Han; kana alone decides
        return "ja"
    script = max(counts, key=lambda s: counts[s])
    if script in _SCRIPT_LANG:
        return _SCRIPT_LANG[script]
    words = re.findall(r"\w+", text.lower())
    lowered = text.lower()
    best, best_score = _SCRIPT_CANDIDATES[script][0], 0.0
    for lang in _SCRIPT_CANDIDATES[script]:
        score = sum(w in _STOPWORDS[lang] for w in words) / max(1, len(words))
        score += 0.5 * sum(lowered.count(c) for c in _MARKERS.get(lang, "")) / max(1, len(words))
        if score > best_score:
            best, best_score = lang, score
    return best
