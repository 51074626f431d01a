"""The datasets the explorer knows by name.

Adding a set laid out like MNIST (KMNIST, EMNIST letters, ...) is one more
:class:`CatalogEntry` in :data:`CATALOG`: its name, its four file names, the
SHA-256 of each file's decompressed content, its mirrors and its class names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SPLITS = ("train", "test")


@dataclass(frozen=True)
class CatalogEntry:
    """Everything needed to find, download and verify one IDX dataset.

    Parameters
    ----------
    name : str
        Short name, also the folder name under a data directory.
    title : str
        Name shown to people.
    files : dict
        ``{split: (images_file, labels_file)}``, names as on the mirrors (gzip).
    sha256 : dict
        ``{file_name: sha256 of the decompressed content}``.
    mirrors : tuple of str
        Base URLs tried in order; a file's URL is ``mirror + file_name``. https
        ones first: a plain http mirror is only a fallback (the checksum and the
        size cap still guard it).
    class_names : tuple of str
        Name of each label.
    shape : tuple of int
        Image (height, width), for display before the files are read.
    sizes : dict
        ``{split: number of samples}``, for display.
    system_dirs : tuple of str
        Folders where an operating-system package installs the files.
    """

    name: str
    title: str
    files: dict
    sha256: dict
    mirrors: tuple[str, ...]
    class_names: tuple[str, ...]
    shape: tuple[int, int] = (28, 28)
    sizes: dict = field(default_factory=lambda: {"train": 60_000, "test": 10_000})
    system_dirs: tuple[str, ...] = ()
    description: str = ""

    @property
    def file_names(self) -> tuple[str, ...]:
        return tuple(f for split in SPLITS for f in self.files[split])

    def content_size(self, file_name: str) -> int:
        """Exact decompressed size of one file, from the known shape and sample count.

        A download never takes more than this (plus a margin for gzip's own
        overhead): an endless or oversized stream is cut off there.
        """
        for split in SPLITS:
            images, labels = self.files[split]
            n = self.sizes[split]
            if file_name == images:
                return 16 + n * self.shape[0] * self.shape[1]
            if file_name == labels:
                return 8 + n
        raise KeyError(file_name)


_MNIST_LAYOUT = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

MNIST = CatalogEntry(
    name="mnist",
    title="MNIST handwritten digits",
    files=_MNIST_LAYOUT,
    sha256={
        "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    mirrors=(
        "https://yann.lecun.com/exdb/mnist/",
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
    ),
    class_names=tuple(str(i) for i in range(10)),
    description="70,000 handwritten digits 0-9, 28x28 grey (LeCun, Cortes, Burges).",
)

FASHION_MNIST = CatalogEntry(
    name="fashion-mnist",
    title="Fashion-MNIST (Zalando)",
    files=_MNIST_LAYOUT,
    sha256={
        "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    mirrors=(
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
    class_names=(
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ),
    system_dirs=("/usr/share/datasets/fashion-mnist",),
    description="70,000 Zalando article images in 10 classes, 28x28 grey.",
)

CATALOG: dict[str, CatalogEntry] = {e.name: e for e in (MNIST, FASHION_MNIST)}

# Ships inside scikit-learn: always available, no files, no network.
DIGITS_NAME = "digits"
DIGITS_TITLE = "scikit-learn digits (8x8, built in)"
DIGITS_TEST_FRACTION = 0.2
DIGITS_SEED = 0


def dataset_names() -> tuple[str, ...]:
    """Every name :func:`dashboard.data.loading.load_dataset` accepts."""
    return (*CATALOG, DIGITS_NAME)
