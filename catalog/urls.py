from django.urls import path

from . import views

app_name = "catalog"

urlpatterns = [
    path("books/", views.books, name="books"),
    path("books/<uuid:book_id>/", views.book, name="book"),
    path("staff/books/", views.staff_books, name="staff_books"),
    path("staff/books/<uuid:book_id>/restock/", views.restock, name="restock"),
]
