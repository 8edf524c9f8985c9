package reloader

import (
	"errors"
	"os"
	"strings"
	"time"

	"example.com/app/reloader/journal"
	"example.com/app/units"
)

// Description is what `app-reloader describe` shows of one instance: its
// state as in status, then how systemd runs it.
type Description struct {
	Unit
	Description string   `json:"description"`
	UnitFile    string   `json:"unit_file"`
	DropIns     []string `json:"drop_ins"`
	// Command is the main process's command line (ExecStart=).
	Command          []string `json:"command"`
	WorkingDirectory string   `json:"working_directory,omitempty"`
	// User is the account it runs as: User=, a dynamic one when
	// DynamicUser is set.
	User        string   `json:"user"`
	DynamicUser bool     `json:"dynamic_user"`
	Environment []string `json:"environment"`
	// EnvironmentFiles are the files systemd reads more of its environment
	// from when it starts it (EnvironmentFile=): app.toml's [env] table,
	// readable by root only.
	EnvironmentFiles []string `json:"environment_files,omitempty"`
	// FileEnvironment is what those files set, NAME=value, with every
	// value masked unless asked for (describe -show-env); FileEnvironmentError
	// says why it could not be read.
	FileEnvironment      []string `json:"file_environment,omitempty"`
	FileEnvironmentError string   `json:"file_environment_error,omitempty"`
	// Sockets are the sockets it serves, with their addresses.
	Sockets []Unit `json:"sockets"`
	Limits  Limits `json:"limits"`
	// Recent are systemd's last messages about it: starts, stops, exits,
	// scheduled restarts.
	Recent []journal.Entry `json:"recent"`
	// RecentError says why Recent could not be read (the journal is for
	// root and the adm and systemd-journal groups).
	RecentError string `json:"recent_error,omitempty"`
}

// Limits are an instance's resource limits and timeouts; a zero value
// means none.
type Limits struct {
	MemoryMax    uint64        `json:"memory_max_bytes,omitempty"`
	TasksMax     uint64        `json:"tasks_max,omitempty"`
	NoFile       uint64        `json:"nofile,omitempty"`
	StartTimeout time.Duration `json:"start_timeout_ns"`
	StopTimeout  time.Duration `json:"stop_timeout_ns"`
	Restart      string        `json:"restart"`
	RestartDelay time.Duration `json:"restart_delay_ns"`
}

// Masked stands for a value describe does not show unless asked.
const Masked = "••••••"

// ReadFileEnvironment fills d.FileEnvironment from d.EnvironmentFiles,
// each value masked unless show is set. Only root can read the files;
// anyone else gets FileEnvironmentError.
func (d *Description) ReadFileEnvironment(show bool) {
	var errs []string
	for _, path := range d.EnvironmentFiles {
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrPermission) {
			errs = append(errs, path+": readable by root only")
			continue
		}
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		vars, err := units.ReadEnvironmentFile(string(b))
		if err != nil {
			errs = append(errs, path+": "+err.Error())
			continue
		}
		for _, kv := range vars {
			v := Masked
			if show {
				v = kv[1]
			}
			d.FileEnvironment = append(d.FileEnvironment, kv[0]+"="+v)
		}
	}
	d.FileEnvironmentError = strings.Join(errs, "; ")
}

// ErrNoSuchInstance is returned for an instance systemd does not know.
var ErrNoSuchInstance = errors.New("no such instance")
