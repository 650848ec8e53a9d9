#include "cli/cli.hpp"

#include <cstdio>

namespace lrsched::cli {

int run(int, char**) {
    std::fputs("lrsched: not yet\n", stderr);
    return 1;
}

}  // namespace lrsched::cli
