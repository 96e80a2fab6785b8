"""The Java instruction task's families: each renders one instruction, in English or Spanish, and the method
it asks for; method and parameter names come from the instruction's words in camelCase."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

Language = Literal["en", "es"]


def cap(word: str) -> str:
    return word[:1].upper() + word[1:]


def camel(*parts: str) -> str:
    """camel("print", "apple", "river") -> "printAppleRiver"."""
    return parts[0] + "".join(cap(p) for p in parts[1:])


def method(signature: str, *body: str) -> str:
    lines = "\n".join(f"    {line}" for line in body)
    return f"public static {signature} {{\n{lines}\n}}"


# Each family: (number of words, render(words, language) -> (instruction text, method)).
def _prints(w, lang):
    message = " ".join(cap(x) for x in w)
    text = f'A function that prints "{message}"' if lang == "en" else f'Una función que imprime "{message}"'
    name = camel("print" if lang == "en" else "imprime", *w)
    return text, method(f"void {name}()", f'System.out.println("{message}");')


def _binary(en_what: str, es_what: str, en_name: str, es_name: str, returns: str, expr: str):
    def render(w, lang):
        a, b = w
        if lang == "en":
            text, name = f"A function that returns {en_what} of {a} and {b}", camel(en_name, a, "and", b)
        else:
            text, name = f"Una función que devuelve {es_what} de {a} y {b}", camel(es_name, a, "y", b)
        return text, method(f"{returns} {name}(int {a}, int {b})", f"return {expr.format(a=a, b=b)};")

    return render


def _is_even(w, lang):
    (x,) = w
    if lang == "en":
        text, name = f"A function that checks if {x} is even", camel("is", x, "even")
    else:
        text, name = f"Una función que comprueba si {x} es par", camel("es", x, "par")
    return text, method(f"boolean {name}(int {x})", f"return {x} % 2 == 0;")


def _count(w, lang):
    (n,) = w
    if lang == "en":
        text, name = f"A function that prints the numbers from 1 to {n}", camel("print", "numbers", "to", n)
    else:
        text, name = f"Una función que imprime los números del 1 al {n}", camel("imprime", "numeros", "al", n)
    return text, method(
        f"void {name}(int {n})", f"for (int i = 1; i <= {n}; i++) {{", "    System.out.println(i);", "}"
    )


def _greet(w, lang):
    (x,) = w
    if lang == "en":
        text, name, hello = f"A function that greets {x}", camel("greet", x), "Hello"
    else:
        text, name, hello = f"Una función que saluda a {x}", camel("saluda", x), "Hola"
    return text, method(f"String {name}(String {x})", f'return "{hello}, " + {x} + "!";')


def _length(w, lang):
    (x,) = w
    if lang == "en":
        text, name = f"A function that returns the length of {x}", camel("length", "of", x)
    else:
        text, name = f"Una función que devuelve la longitud de {x}", camel("longitud", "de", x)
    return text, method(f"int {name}(String {x})", f"return {x}.length();")


def _factorial(w, lang):
    (n,) = w
    if lang == "en":
        text, name = f"A function that returns the factorial of {n}", camel("factorial", "of", n)
    else:
        text, name = f"Una función que devuelve el factorial de {n}", camel("factorial", "de", n)
    body = [
        "long result = 1;",
        f"for (int i = 2; i <= {n}; i++) {{",
        "    result *= i;",
        "}",
        "return result;",
    ]
    return text, method(f"long {name}(int {n})", *body)


def _getter_setter(w, lang):
    (f,) = w
    text = f"A getter and a setter for {f}" if lang == "en" else f"Un getter y un setter para {f}"
    code = (
        f"private int {f};\n\n"
        f"public int {camel('get', f)}() {{\n    return {f};\n}}\n\n"
        f"public void {camel('set', f)}(int {f}) {{\n    this.{f} = {f};\n}}"
    )
    return text, code


FAMILIES: dict[str, tuple[int, Callable]] = {
    "print": (2, _prints),
    "sum": (2, _binary("the sum", "la suma", "sum", "suma", "int", "{a} + {b}")),
    "product": (2, _binary("the product", "el producto", "product", "producto", "int", "{a} * {b}")),
    "max": (2, _binary("the maximum", "el máximo", "max", "maximo", "int", "Math.max({a}, {b})")),
    "min": (2, _binary("the minimum", "el mínimo", "min", "minimo", "int", "Math.min({a}, {b})")),
    "is_even": (1, _is_even),
    "count": (1, _count),
    "greet": (1, _greet),
    "length": (1, _length),
    "factorial": (1, _factorial),
    "getter_setter": (1, _getter_setter),
}


def make_example(family: str, words: list[str], lang: Language) -> dict:
    text, code = FAMILIES[family][1](words, lang)
    return {"prompt": f"// {text}", "completion": code}
