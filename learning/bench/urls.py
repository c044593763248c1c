from django.urls import path

from config.urls import urlpatterns as product_urlpatterns
from learning.bench.floor import insert_one_row

urlpatterns = [path("bench/floor/", insert_one_row), *product_urlpatterns]
