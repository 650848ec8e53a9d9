// lrsched: entry point. Everything but argument dispatch lives in lrsched_core.
#include "cli/cli.hpp"

int main(int argc, char** argv) {
    return lrsched::cli::run(argc, argv);
}
