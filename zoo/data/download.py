"""Fetching a public data set into the local cache, or saying where to get it."""

import keras


class DataUnavailableError(RuntimeError):
    """No `--data` was given and the data set could not be downloaded."""


def fetch(name, url, filename, how_to_pass, extract=False):
    """Downloads `url` into Keras's cache (once) and returns the local path.

    Args:
        name: The data set's name, for messages.
        url: Its public address.
        filename: The file to return, inside the (extracted) download.
        how_to_pass: How the user gives a local copy instead, e.g.
            "--data PATH/Sarcasm_Headlines_Dataset.json".
        extract: Whether the download is an archive to unpack.

    Raises:
        DataUnavailableError: offline or the address failed; the message says
            where to get the file and how to pass it.
    """
    try:
        path = keras.utils.get_file(
            fname=filename if not extract else None,
            origin=url,
            extract=extract,
            cache_subdir="rnn_zoo",
        )
    except Exception as error:  # noqa: BLE001  (any network or HTTP failure)
        raise DataUnavailableError(
            f"Could not download the {name} data set from {url} ({error}). "
            f"Download it yourself from that address and pass the file with "
            f"{how_to_pass}."
        ) from None
    if extract:
        import pathlib

        matches = sorted(pathlib.Path(path).rglob(filename))
        if not matches:
            raise DataUnavailableError(
                f"The {name} download from {url} holds no {filename}; pass "
                f"a local copy with {how_to_pass}."
            )
        return str(matches[0])
    return path
