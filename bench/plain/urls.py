"""The plain app's four requests, at the product's paths."""

from django.urls import path

from . import views

urlpatterns = [
    path("api/v1/books/<uuid:pk>/", views.book),
    path("api/v1/accounts/<uuid:pk>/", views.account),
    path("api/v1/accounts/<uuid:pk>/follow/", views.follow),
    path("api/v1/orders/", views.place_order),
]
