from django.urls import path

from knowledge import views

urlpatterns = [
    path("", views.help_index, name="help-index"),
    path("<slug:slug>/", views.help_article, name="help-article"),
]
