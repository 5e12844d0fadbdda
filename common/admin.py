from django.contrib import admin

from common.models import IdempotencyKey


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ("key", "scope", "user", "response_status", "created_at")
    search_fields = ("key", "scope")
    readonly_fields = [field.name for field in IdempotencyKey._meta.fields]

    def has_add_permission(self, request):
        return False
