"""Record ids read from text (query strings, form fields, headers): digits that fit the
databases' 64-bit integer keys; a larger number would overflow them."""

MAX_ID = 2**63 - 1


def id_in(text: str) -> int | None:
    """The id `text` writes, or None when it writes none."""
    if text.isascii() and text.isdigit() and len(text) <= len(str(MAX_ID)):
        number = int(text)
        return number if number <= MAX_ID else None
    return None
