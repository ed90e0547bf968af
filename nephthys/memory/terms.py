"""What a text is made of, for the team's memory: the terms its search and similarity compare.

One pure function of the text, the same for every server (no text-search configuration, no
extension, nothing downloaded), so a question in any script is indexed and looked up alike:

- words (letters, digits, ``_``; Latin, Cyrillic, Arabic, Devanagari, …) are case-folded and cut
  to their first ``STEM_LENGTH`` characters, a stemmer that serves every inflecting language
  alike ("extended"/"extension", "продлили"/"продлить"); Arabic loses its article "ال";
- identifiers and error codes stay whole beside their parts (``invalid_token``: ``invalid_token``,
  ``inval``, ``token``); numbers of three digits or more stay whole (``137``, ``404``);
- scripts written without spaces (Chinese, Japanese) give character pairs (bigrams); pairs of
  hiragana alone (particles, endings) are left out;
- greetings and function words of the channel's languages are left out (``STOPWORDS``);
- every stem of four characters or more among a text's first ``VARIANT_TERMS`` (a query's: all)
  also gives its one-deletion variants (``~`` + the stem
  less one character): two stems one typo apart share a variant ("dedline" and "deadline" both
  give ``~dedl``), which is how typos match without pg_trgm.

Bounds: a text is read up to ``TEXT_LIMIT`` characters and gives at most ``TERM_LIMIT`` terms.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence

STEM_LENGTH = 5
TEXT_LIMIT = 4000
TERM_LIMIT = 64
# Only a text's first terms (the title's, then the question's opening) carry typo variants: they
# say what it is about, and the variants are most of a document's size.
VARIANT_TERMS = 16
CODE_TOKEN_LIMIT = 40
VARIANT_MARK = "~"

# Han, kana, Hangul, Thai: written without spaces between words.
_UNSPACED = re.compile(
    r"[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\u0e00-\u0e7f]+"
)
# \w leaves out combining marks (Devanagari's vowel signs, Arabic's marks, Thai's vowels), which
# would cut words in two: they are added by range.
_TOKEN = re.compile(
    r"[\w\u0300-\u036f\u0483-\u0489\u0591-\u05bd\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"
    r"\u0900-\u0903\u093a-\u094f\u0951-\u0957\u0962-\u0963\u0981-\u0983\u09bc-\u09d7"
    r"\u0a01-\u0a03\u0a3c-\u0a51\u0e31\u0e34-\u0e3a\u0e47-\u0e4e\u3099-\u309a]+"
)
_HIRAGANA = re.compile(r"^[\u3040-\u309f]+$")
_ARABIC_MARKS = re.compile(r"[\u064b-\u065f\u0670]")
_ARABIC_ARTICLES = ("وال", "بال", "فال", "كال", "لل", "ال")

STOPWORDS = frozenset(
    """
    a an and are as at be been but by can could did do does doing for from had has have having he her
    hi hello hey how i if in into is it its just me my no not of on or our please pls plz so some
    than thank thanks that the their them then there these they this to too up us was we were what
    when where which who why will with would you your yours im ive dont cant doesnt didnt isnt wont
    any anyone someone help get got still also again already yet after before about all one out
    there here very much many more most should need want know anybody everyone hii hiii ok okay
    getting try trying tried
    и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее мне
    было вот от меня еще нет о из ему теперь когда даже ну вдруг ли если уже или ни быть был него
    до вас нибудь опять уж вам ведь там потом себя ничего ей может они тут где есть надо ней для мы
    тебя их чем была сам чтоб без будто чего раз тоже себе под будет ж тогда кто этот того потому
    этого какой совсем ним здесь этом один почти мой тем чтобы нее сейчас были куда зачем всех
    никогда всё ещё можно при наконец два об другой хоть после над больше тот через эти нас про всего них
    какая много разве три эту моя впрочем хорошо свою этой перед иногда лучше чуть том нельзя такой
    им более всегда конечно всю между привет здравствуйте пожалуйста помогите спасибо подскажите
    من في علي الي عن مع هذا هذه ذلك التي الذي هل ما لا لم لن ان كان قد و او يا مرحبا شكرا
    السلام عليكم بعد قبل كل اي انا نحن هو هي حتي الان متي كيف اريد لماذا اين
    का के की है हैं और में से को पर यह वह एक था थे थी हो भी नहीं तो ही कि जो कर मैं मेरा मेरे मेरी
    नमस्ते कृपया धन्यवाद क्या क्यों कैसे रहा रहे रही
    """.split()
)
_STOP_PAIRS = frozenset({"你好", "我的", "请问", "谢谢", "您好", "一下", "什么", "怎么"})


# Arabic spellings that vary between writers: hamza forms of alef, alef maksura, ta marbuta.
_ARABIC_LETTERS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ى": "ي", "ة": "ه"})


def _normal(text: str) -> str:
    """NFKC and case-folded, Arabic vowel marks dropped and letters unified; at most TEXT_LIMIT
    characters."""
    folded = unicodedata.normalize("NFKC", text[:TEXT_LIMIT]).casefold()
    return _ARABIC_MARKS.sub("", folded).translate(_ARABIC_LETTERS)


def _tokens(text: str) -> list[str]:
    """Runs of letters, digits, ``_`` and the combining marks of the scripts a channel writes in."""
    return _TOKEN.findall(text)


def _stem(word: str) -> str:
    for article in _ARABIC_ARTICLES:
        if word.startswith(article) and len(word) - len(article) >= 3:
            word = word[len(article) :]
            break
    return word[:STEM_LENGTH]


def _word_terms(token: str) -> Iterable[str]:
    if token.isdigit():
        if len(token) >= 3:
            yield token[:CODE_TOKEN_LIMIT]
        return
    parts = [part for part in re.split(r"_|(?<=\D)(?=\d)|(?<=\d)(?=\D)", token) if part]
    if len(parts) > 1 and len(token) <= CODE_TOKEN_LIMIT:
        yield token  # the identifier whole: "invalid_token", "err404"
    for part in parts:
        if part.isdigit():
            if len(part) >= 3:
                yield part
        elif len(part) >= 2 and part not in STOPWORDS:
            yield _stem(part)


def _unspaced_terms(run: str) -> Iterable[str]:
    if len(run) == 1:
        if not _HIRAGANA.match(run):
            yield run
        return
    for start in range(len(run) - 1):
        pair = run[start : start + 2]
        if not _HIRAGANA.match(pair) and pair not in _STOP_PAIRS:
            yield pair


def terms(text: str) -> list[str]:
    """The text's distinct terms in the order they first appear, at most TERM_LIMIT."""
    return list(_remembered_terms(text[:TEXT_LIMIT]))


# A new question's text is read three times on the Slack path (its memory row, the similar-ticket
# look-up, its surge's kin): remembered, it is tokenised once. Bound: 256 texts of at most
# TEXT_LIMIT characters (what ``_normal`` reads of a text, so the terms are the same).
@functools.lru_cache(maxsize=256)
def _remembered_terms(text: str) -> tuple[str, ...]:
    return tuple(_terms(text))


def _terms(text: str) -> list[str]:
    found: dict[str, None] = {}
    seen: set[str] = set()
    for token in _tokens(_normal(text)):
        if token in seen:
            continue
        seen.add(token)
        pieces = _UNSPACED.split(token)
        runs = _UNSPACED.findall(token)
        produced: list[str] = []
        for piece in pieces:
            if piece:
                produced.extend(_word_terms(piece))
        for run in runs:
            produced.extend(_unspaced_terms(run))
        for term in produced:
            found.setdefault(term, None)
            if len(found) >= TERM_LIMIT:
                return list(found)
    return list(found)


def variants(term: str) -> list[str]:
    """The term's one-deletion variants (marked), for stems of four characters or more; else none."""
    return sorted(variant_set(term))


@functools.lru_cache(maxsize=65536)
def variant_set(term: str) -> frozenset[str]:
    """``variants`` as a set, remembered: a new question is compared with up to hundreds of recent ones
    (nephthys/memory/surges.py), which share most of their terms."""
    if len(term) < 4 or len(term) > STEM_LENGTH or term.isdigit():
        return frozenset()
    return frozenset(VARIANT_MARK + term[:i] + term[i + 1 :] for i in range(len(term)))


def _quoted(term: str) -> str:
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(question_terms: list[str], answer_terms: Sequence[str] = ()) -> str:
    """A tsvector (its text form) of a ticket: the question's terms weighted A and their
    variants B, the answer's terms C and their variants D. Positions are the terms' order."""
    weighted: dict[str, str] = {}
    for group, (exact, variant) in ((question_terms, ("A", "B")), (answer_terms, ("C", "D"))):
        for n, term in enumerate(group):
            weighted.setdefault(term, exact)
            for var in variants(term) if n < VARIANT_TERMS else ():
                weighted.setdefault(var, variant)
    return " ".join(f"{_quoted(term)}:{n}{weight}" for n, (term, weight) in enumerate(weighted.items(), 1))


def _term_group(term: str, *, with_answers: bool) -> str:
    """The term or a typo of it (question side: A, variants B; ``with_answers``: C and D too)."""
    exact = "AC" if with_answers else "A"
    variant = "BD" if with_answers else "B"
    return " | ".join([f"{_quoted(term)}:{exact}", *(f"{_quoted(var)}:{variant}" for var in variants(term))])


def tsquery_literal(query_terms: list[str], *, with_answers: bool = False) -> str | None:
    """A tsquery matching any of the terms or a typo of one. None when the text gave no term."""
    if not query_terms:
        return None
    return " | ".join(
        f"( {_term_group(term, with_answers=with_answers)} )" for term in dict.fromkeys(query_terms)
    )


PAIR_TERMS = 10


def tsquery_two_of(query_terms: list[str], *, with_answers: bool = False) -> str | None:
    """A tsquery matching two of the first PAIR_TERMS terms (or typos of them), for queries of
    three terms or more (a text sharing one word with a question is rarely like it); else any."""
    distinct = list(dict.fromkeys(query_terms))[:PAIR_TERMS]
    if len(distinct) < 3:
        return tsquery_literal(distinct, with_answers=with_answers)
    groups = [f"( {_term_group(term, with_answers=with_answers)} )" for term in distinct]
    pairs = [f"( {groups[i]} & {groups[j]} )" for i in range(len(groups)) for j in range(i + 1, len(groups))]
    return " | ".join(pairs)
