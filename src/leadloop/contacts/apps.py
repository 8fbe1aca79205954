from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "leadloop.contacts"
    label = "contacts"
