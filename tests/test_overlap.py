"""The words a held-out check compares, in every spelling a model reads or writes."""

from datamodules.overlap import fold, leaks, words_as_read


def test_words_are_folded_split_at_camel_case_and_punctuation_and_lowered():
    assert fold("Vórtice Straße ÑANDÚ cœur") == "Vortice Strasse NANDU coeur"
    assert words_as_read('// Una función que imprime "¡Hola, VÓRTICE 42!"') == {
        "una",
        "funcion",
        "que",
        "imprime",
        "hola",
        "vortice",
    }
    assert words_as_read("public static int maximoHierroYPepper(int a)") == {
        "public",
        "static",
        "int",
        "maximo",
        "hierro",
        "y",
        "pepper",
        "a",
    }
    assert words_as_read("printHTMLPage limón_ámbar") == {"print", "html", "page", "limon", "ambar"}
    assert words_as_read("") == set() and words_as_read("42 ¿? ...") == set()


def test_a_held_out_word_is_found_in_any_spelling_and_only_as_a_whole_word():
    texts = ['// prints "Limón"', "void imprimeDangerousLimon() {}", "lemonade"]
    assert leaks(["limon"], texts) == {"limon": texts[0]}
    assert leaks(["límon"], texts[1:]) == {"limon": texts[1]}  # the held-out word folded too
    assert leaks(["lemon"], texts) == {}  # "lemonade" is another word
