"""ktwidget: a self-hosted payment-widget gateway and its Python SDK (`ktwidget.sdk`)."""

from ktwidget.sdk import *  # noqa: F403 - the SDK's public names are the package's
from ktwidget.sdk import __all__ as __all__
