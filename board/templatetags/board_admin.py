from django import template

from board.history.moments import format_moment

register = template.Library()


@register.filter
def thousands(number):
    """``51234`` -> ``"51,234"``, as box numbers and counts are written everywhere else."""
    try:
        return f"{int(number):,}"
    except (TypeError, ValueError):
        return number


@register.filter
def moment(value):
    """A datetime as the history tools write it: UTC, to the millisecond."""
    return format_moment(value) if value else ""
