"""The incident list's table body (``incidents.list_rows``), as a tag: the page's
template passes it the delivery problems it read (``communications``), which
``incidents`` reaches only through templates and services."""

from django import template

from incidents.list_rows import table_rows

register = template.Library()


@register.simple_tag
def incident_table_rows(rows, delivery_problems):
    return table_rows(rows, delivery_problems)
