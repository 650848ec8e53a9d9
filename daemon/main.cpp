// lrsched: entry point. Everything else, argument parsing included, is in the
// libraries (cli/ in lrsched_app), so the tests link the same code.
#include "cli/cli.hpp"

int main(int argc, char** argv) {
    return lrsched::cli::run(argc, argv);
}
