from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("tickets.urls")),
    path("api/v1/", include("knowledge.urls")),
    path("api/v1/", include("learning.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("help/", include("knowledge.help_urls")),
    path("anymail/", include("anymail.urls")),
    path("", include("channels_intake.widget_urls")),
    path("", include("channels_intake.urls")),
]
