"""The migration-validator command-line tool and the local stack it runs."""

from .paths import use_function_code

use_function_code()
