"""Serializer fields for dates and moments within the supported years (input_bounds).

Filters clamp (``created_to=9999-12-31`` means "no upper bound" and returns the same
rows); values that will be stored are refused with a message naming the range.
"""

from rest_framework import serializers

from apps.accounts.input_bounds import (
    DATE_RANGE_MESSAGE,
    date_clamped,
    is_date_in_range,
    is_moment_in_range,
    moment_clamped,
)


class FilterDateField(serializers.DateField):
    """A date query parameter, clamped into 1900-01-01 … 2999-12-31."""

    def to_internal_value(self, value):
        return date_clamped(super().to_internal_value(value))


class FilterDateTimeField(serializers.DateTimeField):
    """A moment query parameter, clamped into the supported years."""

    def enforce_timezone(self, value):
        # Making 0001-01-01T00:00+14:00 aware in UTC overflows: clamp first.
        return super().enforce_timezone(moment_clamped(value))


class BoundedDateField(serializers.DateField):
    """A date that will be stored: outside the supported years it is refused."""

    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        if not is_date_in_range(day):
            raise serializers.ValidationError(DATE_RANGE_MESSAGE)
        return day


class BoundedDateTimeField(serializers.DateTimeField):
    """A moment that will be stored: outside the supported years it is refused."""

    def enforce_timezone(self, value):
        if not is_moment_in_range(value):
            raise serializers.ValidationError(DATE_RANGE_MESSAGE)
        return super().enforce_timezone(value)


class QueryChoiceField(serializers.ChoiceField):
    """A choice in a query string: an empty value (`team=`) is refused as not one of the
    choices, rather than read as "not given" the way DRF reads empty HTML form fields."""

    def get_value(self, dictionary):
        if self.field_name in dictionary and dictionary.get(self.field_name) == "":
            return ""
        return super().get_value(dictionary)
