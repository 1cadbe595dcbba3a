"""The benchmarks behind `eldercare bench`: each builds its own load, measures and prints
figures; nothing here is imported by the services."""
