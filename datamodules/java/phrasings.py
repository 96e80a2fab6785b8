"""How each family's instruction can be worded: several templates per family and language, some never trained.

A model that learned three wordings of "the sum of {a} and {b}" may still fail on a fourth: `val_phrasing`
and `test_phrasing` ask with wordings no training instruction uses. Each family and language has training
templates (the first is the original wording, so `make_example` without a draw renders it), one `val`
template and one `test` template: val and test differ, so a wording read while choosing settings on `val`
says nothing about `test`. Held-out wordings use verbs and turns of phrase that training wordings lack
("Write a method giving back {a} plus {b}"), not only a different word order.

Slots: `{a}` and `{b}` for the two-operand families, `{x}` or `{n}` for one word, `{f}` for a field,
`{message}` for a print instruction's text. Whatever the wording, the method is the same (its name comes
from the family and the words), so the task stays well defined.
"""

from __future__ import annotations

import re

from datamodules.overlap import fold

GROUPS = ("train", "val", "test")


def _binary(en_what: str, es_what: str, en_held: tuple[str, str], es_held: tuple[str, str]) -> dict:
    return {
        "en": {
            "train": [
                f"A function that returns {en_what} of {{a}} and {{b}}",
                f"Return {en_what} of {{a}} and {{b}}",
                f"A method that computes {en_what} of {{a}} and {{b}}",
            ],
            "val": [en_held[0]],
            "test": [en_held[1]],
        },
        "es": {
            "train": [
                f"Una función que devuelve {es_what} de {{a}} y {{b}}",
                f"Devuelve {es_what} de {{a}} y {{b}}",
                f"Un método que calcula {es_what} de {{a}} y {{b}}",
            ],
            "val": [es_held[0]],
            "test": [es_held[1]],
        },
    }


def _one(
    en_train: list[str], en_held: tuple[str, str], es_train: list[str], es_held: tuple[str, str]
) -> dict:
    return {
        "en": {"train": en_train, "val": [en_held[0]], "test": [en_held[1]]},
        "es": {"train": es_train, "val": [es_held[0]], "test": [es_held[1]]},
    }


PHRASINGS: dict[str, dict[str, dict[str, list[str]]]] = {
    "print": _one(
        ['A function that prints "{message}"', 'A method that prints "{message}"', 'Print "{message}"'],
        ('Write a function that outputs "{message}" to the console', 'Show the text "{message}" on screen'),
        ['Una función que imprime "{message}"', 'Un método que imprime "{message}"', 'Imprime "{message}"'],
        (
            'Escribe una función que muestre "{message}" en la consola',
            'Muestra el texto "{message}" en pantalla',
        ),
    ),
    "sum": _binary(
        "the sum",
        "la suma",
        ("Write a method giving back {a} plus {b}", "Add {a} to {b} and hand back the total"),
        ("Escribe un método que dé {a} más {b}", "Suma {a} con {b} y entrega el total"),
    ),
    "product": _binary(
        "the product",
        "el producto",
        ("Write a method giving back {a} times {b}", "Multiply {a} by {b} and hand back the outcome"),
        ("Escribe un método que dé {a} por {b}", "Multiplica {a} por {b} y entrega el resultado"),
    ),
    "max": _binary(
        "the maximum",
        "el máximo",
        ("Write a method giving back the larger of {a} and {b}", "Which is bigger, {a} or {b}? Hand it back"),
        ("Escribe un método que dé el mayor entre {a} y {b}", "¿Cuál es más grande, {a} o {b}? Entrégalo"),
    ),
    "min": _binary(
        "the minimum",
        "el mínimo",
        (
            "Write a method giving back the smaller of {a} and {b}",
            "Which is smaller, {a} or {b}? Hand it back",
        ),
        ("Escribe un método que dé el menor entre {a} y {b}", "¿Cuál es más pequeño, {a} o {b}? Entrégalo"),
    ),
    "is_even": _one(
        [
            "A function that checks if {x} is even",
            "Check whether {x} is even",
            "A method that tells if {x} is even",
        ],
        (
            "Write a method saying true when {x} is divisible by 2",
            "Is {x} an even number? Answer with a boolean",
        ),
        [
            "Una función que comprueba si {x} es par",
            "Comprueba si {x} es par",
            "Un método que dice si {x} es par",
        ],
        (
            "Escribe un método que dé true cuando {x} sea divisible por 2",
            "¿Es {x} un número par? Responde con un booleano",
        ),
    ),
    "count": _one(
        [
            "A function that prints the numbers from 1 to {n}",
            "Print the numbers from 1 to {n}",
            "A method that prints every number from 1 to {n}",
        ],
        (
            "Write a method counting up to {n}, one number per line",
            "Loop from 1 up to {n} and output each value",
        ),
        [
            "Una función que imprime los números del 1 al {n}",
            "Imprime los números del 1 al {n}",
            "Un método que imprime cada número del 1 al {n}",
        ],
        (
            "Escribe un método que cuente hasta {n}, un número por línea",
            "Recorre desde 1 hasta {n} y muestra cada valor",
        ),
    ),
    "greet": _one(
        ["A function that greets {x}", "Greet {x}", "A method that greets {x}"],
        ("Write a method saying hello to {x}", "Hand back a welcome message for {x}"),
        ["Una función que saluda a {x}", "Saluda a {x}", "Un método que saluda a {x}"],
        ("Escribe un método que diga hola a {x}", "Entrega un mensaje de bienvenida para {x}"),
    ),
    "length": _one(
        [
            "A function that returns the length of {x}",
            "Return the length of {x}",
            "A method that computes the length of {x}",
        ],
        (
            "Write a method counting the characters in {x}",
            "How many characters does {x} have? Hand back that count",
        ),
        [
            "Una función que devuelve la longitud de {x}",
            "Devuelve la longitud de {x}",
            "Un método que calcula la longitud de {x}",
        ],
        (
            "Escribe un método que cuente los caracteres de {x}",
            "¿Cuántos caracteres tiene {x}? Entrega esa cifra",
        ),
    ),
    "factorial": _one(
        [
            "A function that returns the factorial of {n}",
            "Return the factorial of {n}",
            "A method that computes the factorial of {n}",
        ],
        ("Write a method multiplying 1 through {n} together", "Work out {n} factorial and hand it back"),
        [
            "Una función que devuelve el factorial de {n}",
            "Devuelve el factorial de {n}",
            "Un método que calcula el factorial de {n}",
        ],
        ("Escribe un método que multiplique desde 1 hasta {n}", "Obtén {n} factorial y entrégalo"),
    ),
    "getter_setter": _one(
        [
            "A getter and a setter for {f}",
            "Getter and setter for {f}",
            "A field {f} with its getter and setter",
        ],
        ("Write accessor methods for {f}", "Make {f} a private field one can read and change"),
        [
            "Un getter y un setter para {f}",
            "Getter y setter para {f}",
            "Un campo {f} con su getter y su setter",
        ],
        ("Escribe métodos de acceso para {f}", "Haz de {f} un campo privado que se pueda leer y cambiar"),
    ),
}


def templates(family: str, lang: str, group: str = "train") -> list[str]:
    """The wordings of `family` in `lang` that `group` ("train", "val" or "test") draws from."""
    if group not in GROUPS:
        raise ValueError(f"phrasing group must be one of {GROUPS}, got {group!r}")
    return PHRASINGS[family][lang][group]


def wording(template: str) -> str:
    """A template's own words, slots removed, accents folded, lower case: "Escribe un método que dé {a} más
    {b}" -> "escribe un metodo que de mas". Two templates with the same wording are one phrasing."""
    return " ".join(re.findall(r"[a-z0-9]+", fold(re.sub(r"\{\w+\}", " ", template)).lower()))


def as_pattern(template: str) -> re.Pattern:
    """A regular expression that any instruction rendered from `template` matches (each slot any text),
    compared folded and lower case as `instance_of` folds the instruction."""
    parts = re.split(r"\{\w+\}", fold(template).lower())
    return re.compile("^" + "(.+)".join(re.escape(p) for p in parts) + "$", re.S)


def instance_of(instruction: str, template: str) -> bool:
    """Whether `instruction` (with or without its leading "// ") could be `template` with its slots filled."""
    text = fold(instruction.removeprefix("// ")).lower()
    return bool(as_pattern(template).match(text))
