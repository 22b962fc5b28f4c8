"""Builders of the catalog app's packaged data (``nunchi/apps/catalog/data``)."""
