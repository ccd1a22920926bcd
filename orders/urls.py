from django.urls import path

from . import views

app_name = "orders"

urlpatterns = [
    path("orders/", views.my_orders, name="mine"),
    path("orders/place/", views.place_order, name="place"),
    path("orders/<uuid:order_id>/cancel/", views.cancel_order, name="cancel"),
    path("staff/orders/", views.staff_orders, name="staff_orders"),
    path("staff/orders/<uuid:order_id>/<slug:action>/", views.change_order, name="change"),
]
