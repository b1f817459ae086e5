"""Static files under content-hashed names, so browsers may cache them for a year."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """whitenoise's compressed manifest storage, with the page's ES-module imports rewritten too.

    main.js imports ``./grid.js`` and the rest by relative path; without the
    rewrite a hashed main.js would load unhashed modules, cached for a short
    time only and possibly from another release.
    """

    support_js_module_import_aggregation = True
