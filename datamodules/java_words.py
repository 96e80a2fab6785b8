"""Words for the Java instruction task, English and Spanish, split into training and held-out sets.

The seed diversified its instructions by mixing English and Spanish words and failed on words it
had never seen; validation and test here use only held-out words, so accuracy measures exactly that.
"""

from __future__ import annotations

# Nouns that become identifiers and message text; ASCII only so every one is a valid Java identifier.
ENGLISH = """
apple river stone cloud table window garden bridge candle forest engine planet rocket silver
ocean yellow summer winter spring autumn pencil guitar mirror island castle dragon tiger falcon
hammer ladder basket button carpet dinner farmer hunter jacket kettle lemon marble needle orange
pepper rabbit saddle tunnel violin wallet anchor badger cactus donkey eagle feather ginger harbor
insect jungle koala lizard meadow nectar oyster parrot quartz raven salmon turtle umbrella valley
walrus zebra amber breeze copper desert ember frost glacier honey iron jade kernel lantern magnet
nickel orbit pebble quiver ribbon shadow thunder velvet willow cobalt dune echo fable grove
harvest ivory jasmine lagoon maple nugget onion prism quill relic spiral timber urchin vortex
""".split()

SPANISH = """
manzana piedra nube mesa ventana jardin puente vela bosque motor planeta cohete plata oceano
amarillo verano invierno lapiz guitarra espejo isla castillo dragon tigre halcon martillo escalera
cesta boton alfombra cena granjero cazador chaqueta tetera limon marmol aguja naranja pimienta
conejo tunel violin cartera ancla cactus burro aguila pluma jengibre puerto insecto selva lagarto
prado ostra loro cuervo salmon tortuga paraguas valle cebra ambar brisa cobre desierto hielo miel
hierro linterna iman niquel orbita guijarro cinta sombra trueno terciopelo sauce duna eco fabula
cosecha marfil laguna arce cebolla prisma reliquia espiral madera remolino campana cometa
""".split()


def held_out(words: list[str], every: int = 5) -> tuple[list[str], list[str]]:
    """Every `every`-th word is held out, so both splits span the alphabet and both languages."""
    train = [w for i, w in enumerate(words) if i % every != every - 1]
    test = [w for i, w in enumerate(words) if i % every == every - 1]
    return train, test


TRAIN_WORDS_EN, HELD_OUT_WORDS_EN = held_out(sorted(set(ENGLISH)))
TRAIN_WORDS_ES, HELD_OUT_WORDS_ES = held_out(sorted(set(SPANISH) - set(ENGLISH)))
