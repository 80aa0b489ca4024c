"""Compiles the gettext catalogs into the package when a wheel is built.

locales/<lang>/LC_MESSAGES/messages.po at the top of the checkout stay the source of truth; a
built package carries their compiled .mo files in bot/locales/, so an installed farmgate
never writes into its installation. An editable install keeps using the checkout's locales/.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
DOMAIN = "messages"


class BuildPyWithCatalogs(build_py):
    def run(self) -> None:
        super().run()
        if not self.editable_mode:
            self.compile_catalogs()

    def compile_catalogs(self) -> None:
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po_path in sorted(ROOT.glob(f"locales/*/LC_MESSAGES/{DOMAIN}.po")):
            locale = po_path.parent.parent.name
            mo_path = Path(self.build_lib, "bot", "locales", locale, "LC_MESSAGES", f"{DOMAIN}.mo")
            mo_path.parent.mkdir(parents=True, exist_ok=True)
            with po_path.open("rb") as po_file:
                catalog = read_po(po_file, locale=locale)
            with mo_path.open("wb") as mo_file:
                write_mo(mo_file, catalog, use_fuzzy=False)


setup(cmdclass={"build_py": BuildPyWithCatalogs})
