"""`python -m composer`, which is also how torchrun starts it: `torchrun --nproc_per_node N -m composer train`."""

from composer.cli import main

if __name__ == "__main__":
    main(prog_name="composer")
