from django import template

register = template.Library()


@register.filter
def thousands(number):
    """``51234`` -> ``"51,234"``, as box numbers and counts are written everywhere else."""
    try:
        return f"{int(number):,}"
    except (TypeError, ValueError):
        return number
