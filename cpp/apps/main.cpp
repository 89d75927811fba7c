// fregan: frame interpolation, training and evaluation from the command line.
#include <malloc.h>

#include <iostream>
#include <string>

#include <c10/util/Exception.h>

#include "commands.h"
#include "fregan/error.h"

int main(int argc, char** argv) {
  // Video jobs allocate and free frame-sized buffers (up to ~25 MB each at 1080p) for every frame.
  // glibc would map each afresh and return it on free, and the kernel zeroes the pages every time
  // (~10% of a 1080p job's CPU); this short-lived process keeps freed memory for reuse instead.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  // One arena: each thread's own arena lives in 64 MB heaps that glibc maps, shrinks and unmaps as
  // frames come and go, so their pages were zeroed again and again (1 of the job's 2.5 s of system
  // time on a 1080p clip).  The job's threads allocate few, large blocks: the shared lock is cheap.
  mallopt(M_ARENA_MAX, 1);
  // Named "fregan" so --help shows the command, not the path it was installed under.
  CLI::App app{"fregan: GAN-based video frame interpolation (" FREGAN_VERSION ")", "fregan"};
  app.set_version_flag("--version", FREGAN_VERSION);
  app.require_subcommand(1);
  fregan::cli::add_train(app);
  fregan::cli::add_interpolate(app);
  fregan::cli::add_evaluate(app);
  fregan::cli::add_info(app);
  fregan::cli::add_prepare(app);
  fregan::cli::add_strip(app);
  fregan::cli::add_generate(app);
  fregan::cli::add_models(app);
  fregan::cli::add_export(app);
  fregan::cli::add_upscale(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const fregan::cli::Interrupted& e) {
    std::cerr << "fregan: " << e.what() << std::endl;
    return 130;  // 128 + SIGINT
  } catch (const fregan::Error& e) {
    // fregan's own errors (c10::Errors too, caught first): the whole message.
    std::cerr << "fregan: error: " << e.what() << std::endl;
    return 1;
  } catch (const c10::Error& e) {
    // A check inside LibTorch or a model: its message, without the C++ stack trace.
    std::string message = e.what_without_backtrace();
    message = message.substr(0, message.find('\n'));
    std::cerr << "fregan: error: " << message << std::endl;
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "fregan: error: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
