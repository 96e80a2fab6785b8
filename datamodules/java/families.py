"""The Java instruction task's families: each renders one instruction, in English or Spanish, in one of its
wordings (`phrasings.py`), and the method it asks for; method and parameter names come from the
instruction's words in camelCase."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Literal

from datamodules.java.phrasings import templates

Language = Literal["en", "es"]


def cap(word: str) -> str:
    return word[:1].upper() + word[1:]


def camel(*parts: str) -> str:
    """camel("print", "apple", "river") -> "printAppleRiver"."""
    return parts[0] + "".join(cap(p) for p in parts[1:])


def method(signature: str, *body: str) -> str:
    lines = "\n".join(f"    {line}" for line in body)
    return f"public static {signature} {{\n{lines}\n}}"


# Each family: (number of words, render(words, language) -> (the slots its wordings fill, method)). The
# wordings are in `phrasings.py`; the method depends on the words and the language only.
def _prints(w, lang):
    message = " ".join(cap(x) for x in w)
    name = camel("print" if lang == "en" else "imprime", *w)
    return {"message": message}, method(f"void {name}()", f'System.out.println("{message}");')


def _binary(en_name: str, es_name: str, returns: str, expr: str):
    def render(w, lang):
        a, b = w
        name = camel(en_name, a, "and", b) if lang == "en" else camel(es_name, a, "y", b)
        return {"a": a, "b": b}, method(
            f"{returns} {name}(int {a}, int {b})", f"return {expr.format(a=a, b=b)};"
        )

    return render


def _is_even(w, lang):
    (x,) = w
    name = camel("is", x, "even") if lang == "en" else camel("es", x, "par")
    return {"x": x}, method(f"boolean {name}(int {x})", f"return {x} % 2 == 0;")


def _count(w, lang):
    (n,) = w
    name = camel("print", "numbers", "to", n) if lang == "en" else camel("imprime", "numeros", "al", n)
    return {"n": n}, method(
        f"void {name}(int {n})", f"for (int i = 1; i <= {n}; i++) {{", "    System.out.println(i);", "}"
    )


def _greet(w, lang):
    (x,) = w
    name, hello = (camel("greet", x), "Hello") if lang == "en" else (camel("saluda", x), "Hola")
    return {"x": x}, method(f"String {name}(String {x})", f'return "{hello}, " + {x} + "!";')


def _length(w, lang):
    (x,) = w
    name = camel("length", "of", x) if lang == "en" else camel("longitud", "de", x)
    return {"x": x}, method(f"int {name}(String {x})", f"return {x}.length();")


def _factorial(w, lang):
    (n,) = w
    name = camel("factorial", "of", n) if lang == "en" else camel("factorial", "de", n)
    body = [
        "long result = 1;",
        f"for (int i = 2; i <= {n}; i++) {{",
        "    result *= i;",
        "}",
        "return result;",
    ]
    return {"n": n}, method(f"long {name}(int {n})", *body)


def _getter_setter(w, lang):
    (f,) = w
    code = (
        f"private int {f};\n\n"
        f"public int {camel('get', f)}() {{\n    return {f};\n}}\n\n"
        f"public void {camel('set', f)}(int {f}) {{\n    this.{f} = {f};\n}}"
    )
    return {"f": f}, code


FAMILIES: dict[str, tuple[int, Callable]] = {
    "print": (2, _prints),
    "sum": (2, _binary("sum", "suma", "int", "{a} + {b}")),
    "product": (2, _binary("product", "producto", "int", "{a} * {b}")),
    "max": (2, _binary("max", "maximo", "int", "Math.max({a}, {b})")),
    "min": (2, _binary("min", "minimo", "int", "Math.min({a}, {b})")),
    "is_even": (1, _is_even),
    "count": (1, _count),
    "greet": (1, _greet),
    "length": (1, _length),
    "factorial": (1, _factorial),
    "getter_setter": (1, _getter_setter),
}


def make_example(
    family: str, words: list[str], lang: Language, rng: random.Random | None = None, phrasing: str = "train"
) -> dict:
    """One instruction and its method: the wording drawn with `rng` from the `phrasing` group's templates
    ("train", "val" or "test", `phrasings.templates`); without `rng`, the group's first template."""
    slots, code = FAMILIES[family][1](words, lang)
    wordings = templates(family, lang, phrasing)
    template = rng.choice(wordings) if rng else wordings[0]
    return {"prompt": "// " + template.format(**slots), "completion": code}
